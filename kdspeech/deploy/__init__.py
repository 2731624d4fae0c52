"""Deployment figures of trained models: parameters, MACs, CPU real-time factor, ONNX export checked
against torch, onnxruntime's real-time factor (``python -m kdspeech.bin.deploy``).

``inputs``: what a model is given (an enrolment embedding for a personalized one) and the parts of a
two-part system; ``measure``: one model's row; ``onnx_export``: export through torch.onnx (with
``onnx_rewrites`` for layers the exporter cannot take as they are); ``onnx_check``: run the export in
onnxruntime, compare with torch, time it; ``report``: deploy.tsv, deploy.json and deploy.md.
"""
