"""Train a model, supervised or distilled from frozen teachers, from one YAML config.

    python -m kdspeech.bin.train --config conf/train_student_kd.yaml \\
        --train_data dump/mix_student --valid_data dump/mix_valid --out_dir exp/student_s2 \\
        [--seed 1] [key.path=value ...]

Trailing ``key.path=value`` words override the config (``optim.lr=1e-4 trainer.max_epochs=3``).
``--print_config`` prints the config as the training would use it (the defaults, the file, the
overrides, and the options of the model and of every loss term with their defaults) and exits:

    python -m kdspeech.bin.train --config conf/train_student_kd.yaml --print_config optim.lr=1e-4

The exp dir receives config.yaml (resolved), env.json (versions, git hash, seed, command),
checkpoints/, best.pth, history.json, learning_curve.png and tensorboard/.  Re-running continues from
the last checkpoint.  Several processes (torchrun, see utils/launch.py) train with DDP.
"""

import argparse
import copy
import hashlib
import json
import os
import logging
import sys
from pathlib import Path

import torch
import yaml

from kdspeech.cli import run_main
from kdspeech.config import load_config, save_config
from kdspeech.distill.losses import build_loss_terms, term_defaults
from kdspeech.distill.teachers import build_teacher_sets
from kdspeech.env import environment
from kdspeech.errors import KdError
from kdspeech.models import build_model, count_parameters, model_defaults
from kdspeech.plot import plot_learning_curves
from kdspeech.tasks import get_task
from kdspeech.train.determinism import set_deterministic
from kdspeech.train.distributed import cleanup, init_distributed
from kdspeech.train.buckets import BATCH_DEFAULTS, check_batch_options
from kdspeech.train.loading import LOADER_DEFAULTS, check_loader_options
from kdspeech.train.loss_params import share_learned_terms
from kdspeech.train.optim import build_optimizer, build_scheduler
from kdspeech.train.precision import resolve_precision
from kdspeech.train.selection import parse_best
from kdspeech.train.trainer import TRAINER_DEFAULTS, Trainer, check_trainer_options

log = logging.getLogger("kdspeech.train")

DEFAULTS = {
    "task": "enhancement",
    "data": {},                     # task options, e.g. {segment: 16384, sr: 16000}
    "batch_size": 16,
    "valid_batch_size": None,
    **BATCH_DEFAULTS,               # batch_seconds (null: batch_size examples per batch), num_buckets:
                                    # length-bucketed batches (kdspeech.train.buckets)
    **LOADER_DEFAULTS,              # num_workers (auto: from the job's core share), pin_memory,
                                    # persistent_workers, prefetch_factor (kdspeech.train.loading)
    "model": {"name": None, "conf": {}},
    "teachers": {},                 # name -> teacher set (see kdspeech.distill.teachers)
    "loss": [{"name": "mse_target", "weight": 1.0}],
    "valid_loss": None,             # terms for the validation loss (None: the training loss)
    "optim": {"name": "adam", "lr": 1.0e-3},
    "scheduler": {"name": "constant"},
    "trainer": dict(TRAINER_DEFAULTS),
}
INIT_ONLY_OPTIONS = ("pretrained",)  # model options that only say how to initialise the weights
FREE = ("data", "model.conf", "teachers", "loss", "valid_loss", "optim", "scheduler", "trainer.eval_data",
        "trainer.best")


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML training config")
    p.add_argument("--train_data", help="training data dir (required unless --print_config)")
    p.add_argument("--valid_data", help="validation data dir (required unless --print_config)")
    p.add_argument("--out_dir", help="experiment dir (created; resumed if it has checkpoints; required "
                   "unless --print_config)")
    p.add_argument("--print_config", action="store_true",
                   help="print the fully resolved config (defaults, file, overrides, the model's and each loss "
                   "term's options with their defaults) as YAML and exit")
    p.add_argument("--seed", type=int, default=1, help="seed of model init, shuffling and crops")
    p.add_argument("overrides", nargs="*", help="config overrides key.path=value")
    return p


def main(argv=None):
    parser = get_parser()
    args = parser.parse_args(argv)
    conf = load_config(args.config, args.overrides, DEFAULTS, FREE)
    where = args.config
    if not conf["model"]["name"]:
        raise KdError("model.name is not set", path=where)
    if args.print_config:
        sys.stdout.write(yaml.safe_dump(resolved_config(conf, where), sort_keys=False, default_flow_style=None))
        return 0
    missing = [f"--{name}" for name in ("train_data", "valid_data", "out_dir") if not getattr(args, name)]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    tconf = conf["trainer"]
    threads = _threads(tconf["num_threads"])
    if threads:
        torch.set_num_threads(threads)
    set_deterministic(tconf["deterministic"])
    info = init_distributed(tconf["device"])
    check_trainer_options(tconf, info.device, where)   # precision, accum_grad...: before any data is read
    check_loader_options(conf, where)
    check_batch_options(conf, where)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(args.seed)
    model = build_model(conf["model"]["name"], conf["model"]["conf"], where=where)
    # precision auto: resolved once, here, so config.yaml and the run key hold what the run uses
    tconf["precision"], why = resolve_precision(tconf["precision"], info.device, model)
    if why:
        log.info("trainer.precision auto: %s (%s)", tconf["precision"], why)
    task = get_task(conf["task"])
    train_set = task.build_dataset(args.train_data, conf["data"], True, args.seed, where)
    valid_set = task.build_dataset(args.valid_data, conf["data"], False, args.seed, where)
    eval_set = _evaluation_set(task, conf, args, where)
    teachers = build_teacher_sets(conf["teachers"], info.device, where)
    terms = build_loss_terms(conf["loss"], where)
    valid_terms = build_loss_terms(conf["valid_loss"], where) if conf["valid_loss"] else None
    valid_terms = share_learned_terms(terms, valid_terms, where)
    for _, _, term in terms + (valid_terms or []):
        if term.teacher and term.teacher not in teachers:
            raise KdError(f"a loss term uses teacher set '{term.teacher}', which 'teachers' does not define",
                          path=where)
    optimizer = build_optimizer(model.parameters(), conf["optim"], where)
    scheduler = build_scheduler(optimizer, conf["scheduler"], tconf["max_epochs"], where)

    if info.is_main:
        save_config(conf, out_dir / "config.yaml")
        env = {**environment(), "seed": args.seed, "world_size": info.world_size, "device": str(info.device),
               "num_parameters": count_parameters(model)}
        (out_dir / "env.json").write_text(json.dumps(env, indent=1))
        log.info("%s: %d parameters; %d training and %d validation examples; %s x %d process(es)",
                 conf["model"]["name"], env["num_parameters"], len(train_set), len(valid_set),
                 info.device, info.world_size)

    trainer = Trainer(model, optimizer, scheduler, terms, train_set, valid_set, out_dir,
                      teachers=teachers, valid_terms=valid_terms, batch_size=conf["batch_size"],
                      valid_batch_size=conf["valid_batch_size"], seed=args.seed, conf=tconf,
                      model_name=conf["model"]["name"], model_conf=_saved_model_conf(conf["model"]["conf"]),
                      dist_info=info, task=task, eval_set=eval_set,
                      loader={k: conf[k] for k in LOADER_DEFAULTS}, batch_seconds=conf["batch_seconds"],
                      num_buckets=conf["num_buckets"])
    history = trainer.fit(run_key=_run_key(conf, args))
    cleanup(info)  # on success only: a failed rank exits at once and torchrun stops the others
    if info.is_main and history:
        _plot(history, out_dir)
    return 0


def resolved_config(conf, where=None):
    """``conf`` with the options the model and the loss terms take by default written out (what
    ``--print_config`` prints; a training saves ``conf`` itself as config.yaml)."""
    out = copy.deepcopy(conf)
    model = out["model"]
    try:
        out["data"] = {**_plain(get_task(out["task"]).data_defaults()), **(out["data"] or {})}
        model["conf"] = {**_plain(model_defaults(model["name"])), **(model["conf"] or {})}
        for key in ("loss", "valid_loss"):
            if out[key]:
                out[key] = [{"name": spec.get("name"), "weight": spec.get("weight", 1.0),
                             **_plain(term_defaults(spec.get("name"))),
                             **{k: v for k, v in spec.items() if k not in ("name", "weight")}} for spec in out[key]]
    except KdError as err:
        raise err if err.path else KdError(str(err), path=where) from None
    return out


def _plain(values):
    """Defaults as YAML can write them: tuples as lists, other objects as their text."""
    def plain(v):
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)
    return {k: plain(v) for k, v in values.items()}


def _threads(configured):
    """torch threads: the config's ``trainer.num_threads``, never more than this job's share
    (``OMP_NUM_THREADS``, which the job runner sets from the cores and the parallel jobs)."""
    share = os.environ.get("OMP_NUM_THREADS")
    share = int(share) if share and share.isdigit() and int(share) > 0 else None
    if configured and share:
        return min(int(configured), share)
    return int(configured) if configured else share


def _evaluation_set(task, conf, args, where):
    """Whole validation utterances for the task's evaluation, when an epoch needs it: every
    ``eval_every`` epochs, and every epoch when ``trainer.best`` selects by one of its figures."""
    tconf = conf["trainer"]
    best = parse_best(tconf["best"], where)
    if best["key"].startswith("valid.") and best["key"] != "valid.loss":
        metric = best["key"][len("valid."):]
        metrics = list(tconf["eval_metrics"] or task.default_metrics)
        if metric not in metrics:
            tconf["eval_metrics"] = metrics + [metric]
        if tconf["eval_every"] not in (None, 1):
            raise KdError(f"trainer.best selects by {best['key']}, which needs trainer.eval_every: 1 "
                          f"(not {tconf['eval_every']})", path=where)
        tconf["eval_every"] = 1
    if not tconf["eval_every"]:
        return None
    task.check_metrics(list(tconf["eval_metrics"] or task.default_metrics), where)
    eval_data = tconf["eval_data"] or {}
    if eval_data == TRAINER_DEFAULTS["eval_data"]:   # the default, whole utterances: only where the task crops
        eval_data = {k: v for k, v in eval_data.items() if k in task.data_defaults()}
    return task.build_dataset(args.valid_data, {**conf["data"], **eval_data}, False,
                              args.seed, where)


def _saved_model_conf(model_conf):
    """The model options saved with its weights: ``pretrained`` (where the initial weights came from)
    is left out, since the file carries the weights themselves and must not depend on that path."""
    return {k: v for k, v in model_conf.items() if k not in INIT_ONLY_OPTIONS}


def _run_key(conf, args):
    """What a checkpoint must have been made from to be resumed: the resolved config, the data dirs,
    the seed and, under a recipe stage, the stage's fingerprint (which covers upstream changes).
    Settings that do not change the trajectory (max_epochs, logging, evaluation, selection) may
    differ: training can be extended from its checkpoint.  Under a recipe stage the upstream part is
    ``KDSPEECH_STAGE_INPUTS`` (the fingerprints of the stages it reads), not the stage's own
    fingerprint, which also covers the config file's bytes (a comment must not restart training)."""
    conf = copy.deepcopy(conf)
    for key in ("max_epochs", "log_interval", "tensorboard", "num_threads", "device",  # may change on resume
                "eval_every", "eval_metrics", "eval_data", "best", "keep_best", "average_best", "patience",
                "compile", "nonfinite_limit"):
        conf["trainer"].pop(key, None)
    # keys newer than some checkpoints: at their defaults, the key is as it was before them
    for key, default in (("precision", "fp32"), ("accum_grad", 1), ("grad_surgery", None)):
        if conf["trainer"].get(key, default) == default:
            conf["trainer"].pop(key, None)
    for key in LOADER_DEFAULTS:   # the batches are the same for any loader options (kdspeech.train.loading);
        conf.pop(key, None)       # num_workers stays at 0, where keys made before it was proven so have it
    conf["num_workers"] = 0
    for key, default in BATCH_DEFAULTS.items():   # newer than some checkpoints, as above
        if conf.get(key) == default or (key == "num_buckets" and not conf.get("batch_seconds")):
            conf.pop(key, None)
    what = {"conf": conf, "train": os.path.abspath(args.train_data), "seed": args.seed,
            "valid": os.path.abspath(args.valid_data),
            "inputs": os.environ.get("KDSPEECH_STAGE_INPUTS")}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _plot(history, out_dir):
    curves = {key: [(h["epoch"], h[key]) for h in history] for key in ("train_loss", "valid_loss")}
    plot_learning_curves(curves, "loss", out_dir / "learning_curve.png")
    evals = {}
    for h in history:
        for key, value in (h.get("eval") or {}).items():
            evals.setdefault(key, []).append((h["epoch"], value))
    for key, points in evals.items():  # validation metrics of trainer.eval_every
        plot_learning_curves({key: points}, key, out_dir / f"valid_{key}.png")


if __name__ == "__main__":
    run_main(main)
