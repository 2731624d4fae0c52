"""The registry of model loaders: how a frozen network (a teacher, an ASR encoder) is read.

A teacher-set member is a path (a kdspeech exp dir or model file) or a dict naming a loader::

    members:
      - exp/teacher_1                                   # kdspeech's own format
      - {loader: panns, path: Cnn14_16k_mAP=0.438.pth, model: cnn14}
      - {loader: onnx, path: ecapa.onnx}
      - {loader: torchscript, path: encoder.pt}

Every loader returns an ``nn.Module`` in eval mode whose forward follows ``kdspeech.models.calling``.
"""

from kdspeech.errors import KdError
from kdspeech.registry import Registry

LOADERS = Registry("model loader")


def load_member(spec, device="cpu", where=None):
    """Load one member (a path, or ``{loader, path, **options}``) onto ``device``."""
    _import_all()
    if isinstance(spec, str):
        spec = {"loader": "kdspeech", "path": spec}
    spec = dict(spec)
    loader = spec.pop("loader", "kdspeech")
    if "path" not in spec:
        raise KdError(f"model loader '{loader}' needs 'path'", path=where)
    return LOADERS.build(loader, spec, where=where).to(device).eval()


def _import_all():
    """Import every loader module of this package (each registers its loaders): a new format is one
    new file here."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


@LOADERS.register("kdspeech")
def load_kdspeech(path):
    """A kdspeech exp dir (its best.pth) or model file."""
    from kdspeech.train.checkpoint import load_model
    return load_model(path)


@LOADERS.register("torchscript")
def load_torchscript(path):
    """A TorchScript file (``torch.jit.save``)."""
    import torch
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as err:
        raise KdError(f"not a readable TorchScript file ({err})", path=path) from None
