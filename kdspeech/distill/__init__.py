"""Distillation: frozen teachers (``teachers.py``) and the loss registry (``losses.py``)."""
