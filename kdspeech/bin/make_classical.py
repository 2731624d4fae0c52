"""Write the model file of a parameter-free enhancer, so that it enhances and scores like a trained one.

    python -m kdspeech.bin.make_classical --model wiener --out exp/wiener [--conf '{"alpha": 0.98}']

writes ``<out>/best.pth`` (``model_name``, ``model_conf``, an empty ``model`` state) atomically;
``kdspeech.bin.enhance`` / ``utils/enhance.sh`` read it as they read a training's ``best.pth``.  A
model with learned parameters is refused (train it instead).
"""

import argparse
import json
import logging
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.make_classical")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="registered model without parameters (e.g. wiener)")
    p.add_argument("--conf", default="{}", help="its options as a JSON object")
    p.add_argument("--out", required=True, help="exp dir to write best.pth into")
    args = p.parse_args(argv)
    from kdspeech.models import build_model, count_parameters
    from kdspeech.train.checkpoint import atomic_save

    try:
        conf = json.loads(args.conf)
    except json.JSONDecodeError as err:
        raise KdError(f"make_classical: --conf is not JSON ({err})") from None
    if not isinstance(conf, dict):
        raise KdError("make_classical: --conf must be a JSON object")
    model = build_model(args.model, conf)
    if count_parameters(model):
        raise KdError(f"make_classical: model '{args.model}' has {count_parameters(model)} parameters; "
                      f"train it with kdspeech.bin.train instead")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_save({"model_name": args.model, "model_conf": conf, "model": model.state_dict()}, out / "best.pth")
    log.info("%s written (%s, no parameters)", out / "best.pth", args.model)


if __name__ == "__main__":
    run_main(main)
