"""kdspeech: knowledge distillation recipes for speech and audio."""

__version__ = "0.1.0"
