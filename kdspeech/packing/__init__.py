"""Packed models: one file per trained system (``kdspeech pack``), read back by ``kdspeech.load``.

``describe`` reads a system's model card from its exp dir, ``pack`` writes the packed file,
``load`` returns a ready model (eval mode) with its card as ``model.meta``.
"""
