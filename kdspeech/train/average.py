"""Parameter averaging of model files (the n best epochs of a run)."""

import torch

from kdspeech.errors import KdError


def average_model_files(paths):
    """The kdspeech model-file dict whose weights are the mean of ``paths``' weights.

    Floating-point tensors are averaged; integer buffers (BatchNorm's ``num_batches_tracked``) are
    taken from the last file.  All files must hold the same architecture and options.
    """
    if not paths:
        raise KdError("no model files to average")
    first = torch.load(paths[0], map_location="cpu", weights_only=False)
    total = {k: v.clone().double() if v.is_floating_point() else v.clone() for k, v in first["model"].items()}
    for path in paths[1:]:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["model_name"] != first["model_name"] or state["model_conf"] != first["model_conf"]:
            raise KdError(f"cannot average {paths[0]} with a different model", path=path)
        if set(state["model"]) != set(total):
            raise KdError("parameter names differ from the first file's", path=path)
        for k, v in state["model"].items():
            total[k] = total[k] + v.double() if v.is_floating_point() else v.clone()
    n = len(paths)
    model = {k: (v / n).to(first["model"][k].dtype) if first["model"][k].is_floating_point() else v
             for k, v in total.items()}
    return {"model_name": first["model_name"], "model_conf": first["model_conf"], "model": model,
            "averaged_from": [str(p) for p in paths]}
