"""The model registry: ``MODELS.build(name, conf)``; every architecture registers itself here."""

from kdspeech.registry import Registry

MODELS = Registry("model")


def build_model(name, conf=None, where=None):
    """Build a registered model from its config dict (constructor keyword arguments)."""
    _import_all()
    return MODELS.build(name, conf, where=where)


def _import_all():
    # Importing the modules registers their models; kept in one place so the registry is complete.
    from kdspeech.models import crn, panns, waveunet  # noqa: F401


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
