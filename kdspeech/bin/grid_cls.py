"""The alpha/T grid of the classification recipes' distillation loss, for egs/TEMPLATE/cls/cls.sh.

    python -m kdspeech.bin.grid_cls search conf/grid.yaml    # 3 lines: "pipeline rate fold", alphas, Ts
    python -m kdspeech.bin.grid_cls best exp/grid/best.yaml  # "alpha T" chosen by select_grid_cls
    python -m kdspeech.bin.grid_cls loss 0.3 4               # the trainer's loss override of one point

The loss of a point is ``alpha * CE + (1 - alpha) * T^2 * KL(teacher || student at temperature T)``,
written as the override ``loss=[{name: ce, weight: alpha}, {name: kl_logits, weight: 1 - alpha, T: T,
teacher: kd}]``.  ``search`` checks the grid file: pipeline ``cssd`` or ``basd``, an integer rate
and fold, alphas in [0, 1] and temperatures > 0, each a non-empty list; a problem names the file.
"""

import argparse

from kdspeech.cli import run_main
from kdspeech.config import read_yaml
from kdspeech.errors import KdError

PIPELINES = ("cssd", "basd")


def _number_list(conf, key, path, check, bounds):
    values = conf.get(key)
    if not isinstance(values, list) or not values:
        raise KdError(f"'{key}' must be a non-empty list of numbers", path=path)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not check(value):
            raise KdError(f"'{key}' value {value!r} is not a number {bounds}", path=path)
    return values


def read_grid(path):
    """``(pipeline, rate, fold, alphas, temperatures)`` of a grid file, checked."""
    conf = read_yaml(path)
    if not isinstance(conf, dict):
        raise KdError("a grid file is a mapping (pipeline, rate, fold, alpha, T)", path=path)
    unknown = sorted(set(conf) - {"pipeline", "rate", "fold", "alpha", "T"})
    if unknown:
        raise KdError(f"unknown key '{unknown[0]}' (pipeline, rate, fold, alpha, T)", path=path)
    if conf.get("pipeline") not in PIPELINES:
        raise KdError(f"'pipeline' must be one of {', '.join(PIPELINES)}, got {conf.get('pipeline')!r}",
                      path=path)
    for key in ("rate", "fold"):
        if not isinstance(conf.get(key), int) or isinstance(conf.get(key), bool) or conf[key] < 1:
            raise KdError(f"'{key}' must be a positive integer, got {conf.get(key)!r}", path=path)
    alphas = _number_list(conf, "alpha", path, lambda a: 0 <= a <= 1, "in [0, 1]")
    temps = _number_list(conf, "T", path, lambda t: t > 0, "> 0")
    return conf["pipeline"], conf["rate"], conf["fold"], alphas, temps


def read_best(path):
    """``(alpha, T)`` of ``best.yaml`` (kdspeech.bin.select_grid_cls)."""
    conf = read_yaml(path)
    if not isinstance(conf, dict) or "alpha" not in conf or "T" not in conf:
        raise KdError("no 'alpha' and 'T' here (written by kdspeech.bin.select_grid_cls)", path=path)
    return conf["alpha"], conf["T"]


def kd_loss_override(alpha, temperature):
    """The ``loss=[...]`` override of one grid point (``alpha`` and ``temperature`` as given)."""
    beta = 1 - float(alpha)
    return (f"loss=[{{name: ce, weight: {alpha}}}, "
            f"{{name: kl_logits, weight: {beta}, T: {temperature}, teacher: kd}}]")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("search", help="print the grid of a grid file").add_argument("grid_yaml")
    sub.add_parser("best", help="print alpha and T of best.yaml").add_argument("best_yaml")
    loss = sub.add_parser("loss", help="print the loss override of one point")
    loss.add_argument("alpha")
    loss.add_argument("T")
    args = p.parse_args(argv)
    if args.what == "search":
        pipeline, rate, fold, alphas, temps = read_grid(args.grid_yaml)
        print(f"{pipeline} {rate} {fold}")
        print(" ".join(map(str, alphas)))
        print(" ".join(map(str, temps)))
    elif args.what == "best":
        print(*read_best(args.best_yaml))
    else:
        try:
            float(args.alpha), float(args.T)
        except ValueError:
            raise KdError(f"alpha and T must be numbers, got '{args.alpha}' and '{args.T}'") from None
        print(kd_loss_override(args.alpha, args.T))
    return 0


if __name__ == "__main__":
    run_main(main)
