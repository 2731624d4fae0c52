"""ONNX models as frozen networks, run with onnxruntime on the CPU.

The module's forward takes the graph's inputs by name (its ``input_names``; the first one also
receives the task's main input, as for every model) and returns a dict of the graph's outputs by name, as tensors.  No
gradient flows through it: it can be a teacher, not a network applied to the student's output.
"""

import numpy as np
import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models.loaders import LOADERS


class OnnxModule(nn.Module):
    def __init__(self, path, num_threads=1):
        super().__init__()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(num_threads)
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own types
            raise KdError(f"not a readable ONNX model ({type(err).__name__}: {err})", path=path) from None
        self.path = str(path)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def forward(self, **feeds):
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise KdError(f"ONNX model needs inputs {missing}", path=self.path)
        device = next(iter(feeds.values())).device
        arrays = {n: feeds[n].detach().cpu().numpy().astype(np.float32) for n in self.input_names}
        results = self.session.run(self.outputs, arrays)
        return {n: torch.from_numpy(r).to(device) for n, r in zip(self.outputs, results)}


@LOADERS.register("onnx")
def load_onnx(path, num_threads=1):
    """An ONNX file; outputs by the graph's output names."""
    return OnnxModule(path, num_threads)
