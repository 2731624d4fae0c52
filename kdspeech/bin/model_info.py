"""Print a model's size and cost: parameters, MACs per second of audio, CPU latency.

    python -m kdspeech.bin.model_info --config conf/train_teacher.yaml [--seconds 4] [--repeats 3] \\
        [--num_threads 1] [model.conf.num_layers=6 ...]

The model is the config's ``model`` section (a training config), built with fresh weights; ``--sr``
defaults to the config's ``data.sr`` (else 16000).  MACs are counted by kdspeech.models.complexity
(convolutions, linear layers, matrix products, attention, recurrent layers; the STFT, normalisation,
activations and element-wise ops are not); the latency is the median of ``--repeats`` forward passes
on ``--seconds`` of audio at batch size 1 (the model's ``example_inputs``), on this machine's CPU with
``--num_threads`` threads.  ``python -m kdspeech.bin.deploy`` reports the same for trained models,
with the ONNX check.
"""

import argparse
import json

import torch

from kdspeech.cli import run_main
from kdspeech.config import load_config
from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters
from kdspeech.models.complexity import NOT_COUNTED, cpu_latency, macs_per_second


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training config with a model section")
    p.add_argument("--sr", type=int, help="sample rate (default: data.sr of the config, else 16000)")
    p.add_argument("--seconds", type=float, default=1.0, help="audio length of the latency measurement")
    p.add_argument("--repeats", type=int, default=3, help="timed forward passes (median reported); 0: no timing")
    p.add_argument("--num_threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("overrides", nargs="*", help="config overrides key.path=value")
    return p


def model_info(conf, sr, seconds, repeats):
    """``{model, parameters, sr, macs_per_second[, latency_seconds, ...]}`` of the config's model."""
    name = conf["model"]["name"]
    model = build_model(name, conf["model"]["conf"])
    info = {"model": name, "parameters": count_parameters(model), "sr": sr,
            "macs_per_second": macs_per_second(model, sr)}
    if repeats > 0:
        info["latency_seconds"] = cpu_latency(model, seconds, sr, repeats=repeats)
        info["audio_seconds"] = seconds
        info["real_time_factor"] = info["latency_seconds"] / seconds
        info["num_threads"] = torch.get_num_threads()
    return info


def main(argv=None):
    from kdspeech.bin.train import DEFAULTS, FREE

    args = get_parser().parse_args(argv)
    conf = load_config(args.config, args.overrides, DEFAULTS, FREE)
    if not conf["model"]["name"]:
        raise KdError("model.name is not set", path=args.config)
    torch.set_num_threads(args.num_threads)
    sr = args.sr or int(conf["data"].get("sr", 16000))
    info = model_info(conf, sr, args.seconds, args.repeats)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"model            {info['model']}")
    print(f"parameters       {info['parameters']:,} ({info['parameters'] / 1e6:.2f} M)")
    print(f"MACs / s audio   {info['macs_per_second'] / 1e9:.3f} G at {sr} Hz ({NOT_COUNTED})")
    if "latency_seconds" in info:
        print(f"CPU latency      {info['latency_seconds'] * 1e3:.1f} ms for {args.seconds:g} s of audio "
              f"(RTF {info['real_time_factor']:.3f}, {info['num_threads']} thread(s), median of {args.repeats})")
    return 0


if __name__ == "__main__":
    run_main(main)
