"""The model registry: ``MODELS.build(name, conf)``; every architecture registers itself here."""

from kdspeech.registry import Registry

MODELS = Registry("model")


def build_model(name, conf=None, where=None):
    """Build a registered model from its config dict (constructor keyword arguments)."""
    _import_all()
    return MODELS.build(name, conf, where=where)


def model_defaults(name):
    """The constructor options of a registered model that have a default, with it."""
    _import_all()
    return MODELS.defaults(name)


def _import_all():
    """Import every module of this package (importing a model's module registers it), so a new
    architecture is one new file here."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg and info.name not in ("calling", "complexity"):
            importlib.import_module(f"{__name__}.{info.name}")


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())
