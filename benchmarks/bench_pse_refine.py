"""Cost of on-the-fly similarity refinement (Serre et al. II-D) against the personalized enhancer alone.

pDeepFilterNet2 (paper size: 2.26M parameters, 16 kHz) alone, then wrapped by ``pse_refine`` with the
light encoder (TinyECAPA, 256-d, random weights: the cost does not depend on them) and with the oracle
encoder (Resemblyzer's GE2E, the reference encoder of the recipe), at batch 1 on a 10 s clip: seconds
of compute per second of audio (real-time factor) and MACs per second of audio
(``kdspeech.models.complexity``, the encoder's share from ``pse_refine.cost_split``).  The paper's
Table I: 2.23M / 0.33 G for pDeepFilterNet2, 2.38M / 0.37 G with the light similarity.

    OMP_NUM_THREADS=1 tools/venv/bin/python benchmarks/bench_pse_refine.py [--seconds 10] [--threads 1]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from kdspeech.models import build_model, count_parameters
from kdspeech.models.complexity import count_macs, example_inputs
from kdspeech.models.pse_refine import cost_split
from kdspeech.train.checkpoint import atomic_save


def rtf(model, wav, emb, repeats):
    model.eval()
    with torch.no_grad():
        model(wav, emb)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(wav, emb)
            times.append(time.perf_counter() - t0)
    return min(times) / (wav.shape[-1] / 16000)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    wav = 0.1 * torch.randn(1, int(args.seconds * 16000))
    emb = torch.nn.functional.normalize(torch.randn(1, 256), dim=-1)
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny_ecapa.pth"
        conf = {"emb_dim": 256, "chunk": 1.0}
        atomic_save({"model_name": "tiny_ecapa", "model_conf": conf,
                     "model": build_model("tiny_ecapa", conf).state_dict()}, tiny)
        plain = build_model("pdfnet2", {"emb_dim": 256})
        systems = [("pDeepFilterNet2 alone", plain, None)]
        for name, encoder in (("+ light similarity (TinyECAPA)", {"loader": "kdspeech", "path": str(tiny)}),
                              ("+ oracle similarity (GE2E)", {"loader": "resemblyzer", "path": "builtin"})):
            model = build_model("pse_refine", {"enhancer": {"name": "pdfnet2", "conf": {}}, "encoder": encoder,
                                               "chunk": 1.0, "alpha": 6.0})
            systems.append((name, model, cost_split(model, 16000)))
        base_rtf = None
        print(f"{'system':34s} {'params (M)':>10s} {'GMAC/s':>8s} {'encoder GMAC/s':>15s} {'RTF':>7s} {'x alone':>8s}")
        for name, model, split in systems:
            params = count_parameters(model) / 1e6
            macs = (count_macs(model, example_inputs(model, 16000)) if split is None else split["total"]["macs"]) / 1e9
            enc = "-" if split is None else f"{split['encoder']['macs'] / 1e9:.4f}"
            r = rtf(model, wav, emb, args.repeats)
            base_rtf = base_rtf or r
            print(f"{name:34s} {params:10.3f} {macs:8.3f} {enc:>15s} {r:7.4f} {r / base_rtf:8.2f}")
    print(f"({args.seconds:g} s clip, batch 1, {args.threads} thread(s); MACs per second of audio)")


if __name__ == "__main__":
    main()
