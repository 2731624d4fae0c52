"""The one training loop of kdspeech: supervised, distilled, one process or DDP, any task.

Per epoch: train over a seeded shuffle, validate (the loss terms on the validation set), every
``eval_every`` epochs run the task's validation evaluation (``kdspeech.tasks``: PESQ of whole
utterances, macro F1, EER...) on every rank's share of the set, step the schedule, save the full
state (``checkpoints/last.pth``, previous kept) and the best model (``best.pth``) by the figure of
``best`` (``kdspeech.train.selection``), stop early after ``patience`` epochs without a better one.
Epoch ``e`` is seeded from (seed, e) alone, so a run killed at any point and restarted from its last
checkpoint ends with the same weights as an uninterrupted run on the same machine.

A step: the student's outputs (``kdspeech.models.calling``: a dict, with ``hidden.*`` taps the loss
terms read), the outputs of frozen networks applied to them (teacher sets with ``apply_to:
student``) joined as ``<set>.<key>``, the outputs of the teacher sets the terms read, the weighted sum
of the terms.  Loss terms with parameters (a learned temperature) train with the student; the
validation loss reads the same term modules, never copies (``kdspeech.train.loss_params``).

Scale (config keys of ``trainer``): ``precision`` fp32 | bf16 | fp16 runs the forward passes under
autocast, the loss terms in fp32 (``kdspeech.train.precision``), and ``auto`` picks bf16 or fp32 once at
start-up (bf16 on a CUDA GPU that has it; on the CPU the model class's declared ``cpu_precision``, set
from measured step times, where the CPU has native bf16) and writes the choice into config.yaml and
the run key.  The default stays ``fp32``, and ``auto`` is opt-in (a paper-size config or an override
``trainer.precision=auto``), because a config must give the same numbers wherever it runs: the
committed CPU recipes and their result tables are fp32 runs, and ``auto`` would turn the fastest of
them (Wave-U-Net, DCCRN, pDCCRN, Conformer, WaveNet: bf16 0.47-0.86 of fp32's step time) into other
runs, with other weights, on an AMX machine and not on another; pinning ``fp32`` in all of those
configs would make ``auto`` a default in name only.  ``accum_grad`` micro-batches make one
optimiser update (``kdspeech.train.accumulation``); an update with a NaN/inf loss or gradient is
skipped and ``nonfinite_limit`` of them in a row stop the run (``kdspeech.train.guard``; the update
itself, with fp16's grad scaler: ``kdspeech.train.update``); ``compile`` runs the model through
torch.compile (``kdspeech.train.compiling``); ``grad_surgery`` takes the gradients of a main and an
auxiliary group of terms apart and makes the auxiliary one assist the main one (the gradient remedy of
Joint-Grad, or PCGrad: ``kdspeech.train.grad_surgery``).  Loading (top-level keys ``num_workers``,
``pin_memory``, ``persistent_workers``, ``prefetch_factor``): ``kdspeech.train.loading``, whose loaders
live for the whole run and give the same batches for any number of workers; they also read the
precomputed teacher outputs the terms need (``kdspeech.distill.precomputed.CacheLookup``), so with
workers the cache shards are mapped and read in the workers, never here.  ``batch_seconds`` (with
``num_buckets``) replaces ``batch_size`` by length-bucketed batches of that many padded seconds
(``kdspeech.train.buckets``); the padding counts in no loss (``input_len``, kdspeech.distill.padding).
"""

import json
import logging
import math
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from kdspeech.atomic import atomic_write_text
from kdspeech.errors import KdError
from kdspeech.distill.losses import loss_modules, tap_keys, total_loss
from kdspeech.models.calling import call_model
from kdspeech.train.accumulation import check_accum_grad, num_updates, sync_context, window_of
from kdspeech.train.average import average_model_files
from kdspeech.train.buckets import BucketBatches, check_batch_options, check_fits, item_seconds
from kdspeech.train.compiling import compile_model
from kdspeech.train.checkpoint import atomic_save, load_training_state, save_training_state
from kdspeech.train.contract import check_data_contract
from kdspeech.train.distributed import DistInfo, all_reduce_sum
from kdspeech.train.grad_surgery import GradSurgery, average_grads, check_grad_surgery
from kdspeech.train.guard import check_limit
from kdspeech.train.loading import (LOADER_DEFAULTS, check_loader_options, epoch_loader, fixed_batches,
                                    make_loader, pad_collate)
from kdspeech.train.loss_params import add_term_parameters, share_learned_terms
from kdspeech.train.optim import fit_schedule_to, scheduler_step
from kdspeech.train.precision import autocast, check_precision, fp32_losses, resolve_precision
from kdspeech.train.update import Updater
from kdspeech.train.selection import NBest, better, epoch_figure, parse_best

log = logging.getLogger(__name__)

TRAINER_DEFAULTS = {
    "max_epochs": 10,
    "patience": None,       # epochs without a better selection figure before stopping (None: never)
    "grad_clip": None,      # max gradient norm (None: no clipping)
    "log_interval": 20,     # steps between progress lines in the log
    "tensorboard": True,
    "num_threads": None,    # torch intra-op threads (None: torch's default / OMP_NUM_THREADS)
    "device": "auto",       # auto | cpu | cuda
    "eval_every": None,     # epochs between validation evaluations of the task (None: never)
    "eval_metrics": None,   # the task's figures to evaluate (None: the task's defaults)
    "eval_data": {"segment": 0},          # data options of the evaluation set (0: whole utterances)
    "best": {"key": "valid.loss", "mode": "min"},  # the figure that selects best.pth
    "keep_best": 1,         # model files of the n best epochs kept in nbest/
    "average_best": False,  # at the end, best.pth = average of the kept n best (best_single.pth: the best)
    "deterministic": True,  # deterministic algorithms where torch has them (kdspeech.train.determinism)
    "precision": "fp32",    # fp32 | bf16 | fp16 (CUDA only, with a grad scaler) | auto (bf16 or fp32 by
                            # device and model, resolved at start-up): autocast of the forward passes,
                            # losses in fp32 (kdspeech.train.precision)
    "accum_grad": 1,        # micro-batches per optimiser update (kdspeech.train.accumulation)
    "nonfinite_limit": 10,  # updates in a row skipped for a NaN/inf loss or gradient before training
                            # stops (None: never; kdspeech.train.guard)
    "compile": False,       # torch.compile the model; eager where it does not compile (kdspeech.train.compiling)
    "grad_surgery": None,   # {main: [terms], aux: [terms], method: remedy|pcgrad, ...}: the auxiliary group's
                            # gradient made to assist the main one (kdspeech.train.grad_surgery)
}


def check_trainer_options(conf, device, where=None):
    """A KdError naming the key and its allowed values for a bad ``precision`` (fp16 on a CPU
    included), ``accum_grad``, ``nonfinite_limit`` or ``compile``: called before any data is read."""
    conf = {**TRAINER_DEFAULTS, **(conf or {})}
    check_precision(conf["precision"], device, where)
    check_accum_grad(conf["accum_grad"], where)
    check_limit(conf["nonfinite_limit"], where)
    check_grad_surgery(conf["grad_surgery"], None, where)
    if not isinstance(conf["compile"], bool):
        raise KdError(f"trainer.compile must be true or false, not {conf['compile']!r}", path=where)


def _to_device(batch, device):
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


def drop_stale_checkpoints(out_dir):
    """Remove the ``checkpoints.stale.*`` sets of ``out_dir`` (each run with another key sets its
    predecessor's aside; only the newest set is kept, so that they do not pile up)."""
    for old in Path(out_dir).glob("checkpoints.stale.*"):
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        log.info("removed the older stale checkpoints %s", old)


class Trainer:
    def __init__(self, model, optimizer, scheduler, loss_terms, train_set, valid_set, out_dir, *,
                 teachers=None, valid_terms=None, batch_size=16, valid_batch_size=None, seed=1,
                 conf=None, model_name=None, model_conf=None, dist_info=None, num_workers=0,
                 task=None, eval_set=None, loader=None, batch_seconds=None, num_buckets=20):
        self.conf = {**TRAINER_DEFAULTS, **(conf or {})}
        self.best_conf = parse_best(self.conf["best"])
        self.dist = dist_info or DistInfo()
        self.device = self.dist.device
        check_trainer_options(self.conf, self.device)
        self.conf["precision"], why = resolve_precision(self.conf["precision"], self.device, model)
        if why:
            log.info("trainer.precision auto: %s (%s)", self.conf["precision"], why)
        self.precision, self.accum = self.conf["precision"], self.conf["accum_grad"]
        self.model = model.to(self.device)
        if self.conf["compile"]:
            compile_model(self.model, model_name)
        self.net = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = optimizer
        self.updater = Updater(self.model, optimizer, self.conf, self.dist, self.device)
        self.scheduler = scheduler
        self.loss_terms = loss_terms
        # Validation terms read the training terms' learned modules, never replace them.
        self.valid_terms = share_learned_terms(loss_terms, valid_terms) or loss_terms
        self.losses = loss_modules(self.loss_terms).to(self.device)  # trained and checkpointed
        loss_modules(self.valid_terms).to(self.device)
        add_term_parameters(optimizer, self.loss_terms)  # a learned temperature, a projection
        teachers = teachers or {}
        self.student_nets = {n: t for n, t in teachers.items() if getattr(t, "apply_to", "batch") == "student"}
        self.teachers = {n: t for n, t in teachers.items() if n not in self.student_nets}
        self.student_taps, teacher_taps = tap_keys(self.loss_terms + self.valid_terms)
        for name, keys in teacher_taps.items():
            self.teachers[name].tap_keys = keys
        self.train_set, self.valid_set = train_set, valid_set
        # The data contract, before the first batch: what the model, the terms and their teachers read.
        check_data_contract(model, model_name or type(model).__name__, self.loss_terms, teachers,
                            train_set, "training")
        check_data_contract(model, model_name or type(model).__name__, self.valid_terms, teachers,
                            valid_set, "validation")
        self.task, self.eval_set = task, eval_set
        if self.conf["eval_every"] and (eval_set is None or task is None):
            raise ValueError("trainer.eval_every is set but no task evaluation set was given")
        self.batch_size = batch_size
        self.valid_batch_size = valid_batch_size or batch_size
        self.loader_conf = check_loader_options({**LOADER_DEFAULTS, "num_workers": num_workers,
                                                 **(loader or {})})
        self.seed = seed
        check_batch_options({"batch_seconds": batch_seconds, "num_buckets": num_buckets})
        self.batch_seconds, self.num_buckets = batch_seconds, num_buckets
        self._loaders, self._samplers = {}, {}
        if batch_seconds:   # every example must fit a batch: an error now, not in the middle of epoch 3
            self._samplers = {True: self._batches(train_set, True), False: self._batches(valid_set, False)}
        self.out_dir = Path(out_dir)
        self.model_name, self.model_conf = model_name, model_conf or {}
        if hasattr(model, "resolved_conf"):   # what the model read from files at build (a token list)
            self.model_conf = model.resolved_conf(self.model_conf)
        surgery = self.conf["grad_surgery"]
        self.surgery = GradSurgery(surgery, self.loss_terms) if surgery else None
        self.writer = None

    # -- data -----------------------------------------------------------------------------------
    def _batches(self, dataset, train):
        """The batch sampler of a set: ``batch_size`` examples, or buckets of ``batch_seconds``."""
        if not self.batch_seconds:
            return fixed_batches(dataset, self.batch_size if train else self.valid_batch_size, train,
                                 self.seed, self.dist)
        role = "training" if train else "validation"
        durations = item_seconds(dataset, role)
        check_fits(durations, self.batch_seconds, role)
        return BucketBatches([s for _, s in durations], self.batch_seconds, self.num_buckets, self.seed,
                             shuffle=train, world_size=self.dist.world_size, rank=self.dist.rank)

    def _loader(self, dataset, epoch, train):
        """The loader of a set at ``epoch``: built once, kept (persistent workers), set per epoch."""
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        if train not in self._loaders:
            batches = self._samplers[train] if train in self._samplers else self._batches(dataset, train)
            collate = getattr(dataset, "collate", None) or (pad_collate if self.batch_seconds else None)
            self._loaders[train] = make_loader(dataset, batches, self.loader_conf, self.device, self.seed,
                                               collate, self._cache_lookups(train))
        return epoch_loader(self._loaders[train], epoch)

    def _cache_lookups(self, train):
        """The loader's reads of the precomputed teacher sets that the training (or validation) terms
        read: done where the batches are made, in the workers (kdspeech.distill.precomputed)."""
        from kdspeech.distill.precomputed import CacheLookup, PrecomputedTeacher

        used = {term.teacher for _, _, term in (self.loss_terms if train else self.valid_terms) if term.teacher}
        sets = [t for n, t in sorted(self.teachers.items()) if n in used and isinstance(t, PrecomputedTeacher)]
        return [CacheLookup(sets)] if sets else []

    # -- one step -------------------------------------------------------------------------------
    def _outputs(self, net, batch, terms):
        """Student outputs (with taps and frozen networks applied to them) and teacher outputs."""
        out = call_model(net, batch, self.student_taps)
        for name, frozen in self.student_nets.items():
            for key, value in frozen(out).items():
                out[f"{name}.{key}"] = value
        needed = {term.teacher for _, _, term in terms if term.teacher}
        teacher_outs = {name: self.teachers[name](batch) for name in needed if name in self.teachers}
        return out, teacher_outs

    def _micro_step(self, batch, size, last):
        """Forward and backward of one micro-batch of an update of ``size``: its loss and terms."""
        # DDP all-reduces on the update's last; with gradient surgery, never (its own average, per update)
        with sync_context(self.net, self.dist.enabled, last and self.surgery is None):
            with autocast(self.device, self.precision):
                out, teacher_outs = self._outputs(self.net, batch, self.loss_terms)
            if self.surgery is not None:
                return self.surgery.backward(
                    self._params(), lambda terms: fp32_losses(total_loss, terms, out, batch, teacher_outs),
                    self.updater.scaled, size)
            loss, parts = fp32_losses(total_loss, self.loss_terms, out, batch, teacher_outs)
            self.updater.backward(loss / size)
        return loss.detach(), parts

    def _params(self):
        return [p for group in self.optimizer.param_groups for p in group["params"] if p.requires_grad]

    def _term_values(self, batch):
        """Each training term's weighted value on ``batch``, with its graph (the guard's diagnosis)."""
        with autocast(self.device, self.precision):
            out, teacher_outs = self._outputs(self.model, batch, self.loss_terms)
        return [(name, weight * fp32_losses(total_loss, [(name, 1.0, term)], out, batch, teacher_outs)[0])
                for name, weight, term in self.loss_terms]

    def train_epoch(self, epoch):
        """One epoch of updates of ``accum_grad`` micro-batches each; the mean loss and the seconds."""
        self.net.train()
        torch.manual_seed(self.seed * 100003 + epoch)
        loader = self._loader(self.train_set, epoch, train=True)
        batches, updates = len(loader), num_updates(len(loader), self.accum)
        total, count, t0, window, update = torch.zeros(()), 0, time.time(), [], 0
        show = self.dist.is_main and sys.stderr.isatty()
        self.optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False)):
            size, last = window_of(index, batches, self.accum)
            batch = _to_device(batch, self.device)
            loss, parts = self._micro_step(batch, size, last)
            window.append((batch, parts))
            if torch.isfinite(loss):   # a skipped update's non-finite loss stays out of the mean
                n = len(batch["input"])
                total += loss.cpu() * n
                count += n
            if not last:
                continue
            update += 1
            if self.surgery is not None:
                average_grads(self._params(), self.dist)
            self.updater.step(window, f"epoch {epoch} update {update}", self._term_values)
            if update % self.conf["log_interval"] == 0 and self.dist.is_main:
                self._log_update(epoch, update, updates, window, t0)
            window = []
        summed, n = all_reduce_sum([total.item(), count], self.dist)
        return summed / max(n, 1), time.time() - t0

    def _log_update(self, epoch, update, updates, window, t0):
        parts = {k: sum(p[k] for _, p in window) / len(window) for k in window[-1][1]}
        loss = sum(w * parts[name] for name, w, _ in self.loss_terms)
        terms = " ".join(f"{k}={v.item():.4g}" for k, v in parts.items())
        log.info("epoch %d step %d/%d loss %.4g (%s) %.2f s/step", epoch, update, updates, float(loss),
                 terms, (time.time() - t0) / update)
        if self.writer:
            self.writer.add_scalar("train/loss_step", float(loss), (epoch - 1) * updates + update)

    @torch.no_grad()
    def validate(self):
        self.net.eval()
        loader = self._loader(self.valid_set, 0, train=False)
        total, count = 0.0, 0
        for batch in loader:
            batch = _to_device(batch, self.device)
            with autocast(self.device, self.precision):
                out, teacher_outs = self._outputs(self.model, batch, self.valid_terms)
            loss, _ = fp32_losses(total_loss, self.valid_terms, out, batch, teacher_outs)
            n = len(batch["input"])
            total += loss.item() * n
            count += n
        summed, n = all_reduce_sum([total, count], self.dist)
        return summed / max(n, 1)

    @torch.no_grad()
    def evaluate(self):
        """The task's validation figures, each rank evaluating every world_size-th example (in fp32,
        outside autocast, whatever ``precision``: metrics are computed on full-precision outputs)."""
        self.model.eval()
        metrics = list(self.conf["eval_metrics"] or self.task.default_metrics)
        indices = range(self.dist.rank, len(self.eval_set), self.dist.world_size)
        records = self.task.evaluate(self.model, self.eval_set, indices, self.device, metrics)
        if self.dist.enabled:
            gathered = [None] * self.dist.world_size
            dist.all_gather_object(gathered, records)
            records = [r for part in gathered for r in part]
        return self.task.summarize(records, metrics, self.eval_set)

    # -- state ----------------------------------------------------------------------------------
    def _model_file(self):
        return {"model_name": self.model_name, "model_conf": self.model_conf,
                "model": self.model.state_dict()}

    def _state(self, epoch, history, best, bad_epochs, stopped):
        return {**self._model_file(), "epoch": epoch, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "losses": self.losses.state_dict(),
                "history": history, "best": best, "best_key": self.best_conf["key"],
                "bad_epochs": bad_epochs, "stopped": stopped, "run_key": self.run_key,
                "scaler": self.updater.scaler_state()}

    def _restore(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("losses"):
            self.losses.load_state_dict(state["losses"])
        self.updater.load_scaler_state(state.get("scaler"))   # fp16's loss scale (older checkpoints: none)
        fit_schedule_to(self.scheduler, self.conf["max_epochs"], state["epoch"])
        best = state["best"]
        if state.get("best_key", "valid.loss") != self.best_conf["key"]:  # recompute from the history
            best = None
            for entry in state["history"]:
                value = epoch_figure(entry, self.best_conf["key"])
                if better(value, best, self.best_conf["mode"]):
                    best = value
        if best is not None and not math.isfinite(best):
            best = None
        return state["epoch"], state["history"], best, state["bad_epochs"], state["stopped"]

    def _write_history(self, history):
        atomic_write_text(self.out_dir / "history.json", json.dumps(history, indent=1))

    def _save_model(self, path):
        atomic_save(self._model_file(), path)

    def _finish(self, nbest):
        """Average the n best model files into best.pth when asked."""
        if not (self.conf["average_best"] and self.dist.is_main):
            return
        files = [p for p in nbest.files() if p.exists()]
        if len(files) < 2:
            log.warning("trainer.average_best: fewer than 2 kept epochs (keep_best %d); best.pth is the "
                        "single best", self.conf["keep_best"])
            return
        atomic_save(average_model_files(files), self.out_dir / "best.pth")
        log.info("best.pth = average of %d best epochs by %s (%s); the single best is best_single.pth",
                 len(files), self.best_conf["key"], ", ".join(p.stem for p in files))

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, run_key=None):
        """Train to the end; ``run_key`` names what this run is made from (config, data, upstream
        stages): checkpoints of a run with another key are set aside, not resumed."""
        ckpt_dir = self.out_dir / "checkpoints"
        self.run_key = run_key
        key, mode = self.best_conf["key"], self.best_conf["mode"]
        state = load_training_state(ckpt_dir)
        if state is not None and state.get("run_key") != run_key:
            stale = ckpt_dir.with_name(f"checkpoints.stale.{int(time.time())}")
            log.warning("checkpoints in %s were made from another config or input; moved to %s, "
                        "training from scratch", ckpt_dir, stale)
            if self.dist.is_main:
                drop_stale_checkpoints(self.out_dir)   # at most one stale set: the newest, this one
                ckpt_dir.replace(stale)
            state = None
        epoch, history, best, bad_epochs, stopped = 0, [], None, 0, False
        if state is not None:
            epoch, history, best, bad_epochs, stopped = self._restore(state)
            if stopped and epoch < self.conf["max_epochs"] and self.conf["patience"] is None:
                stopped = False  # stopped early under a patience that is no longer set
            log.info("resumed after epoch %d (best %s %s)", epoch, key, best)
        nbest = NBest(self.out_dir, self.conf["keep_best"], mode)
        if self.dist.is_main and self.conf["tensorboard"]:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=epoch + 1)
        while not stopped and epoch < self.conf["max_epochs"]:
            epoch += 1
            train_loss, seconds = self.train_epoch(epoch)
            valid_loss = self.validate()
            if not math.isfinite(valid_loss):
                raise FloatingPointError(f"validation loss is {valid_loss} after epoch {epoch}; "
                                         "lower the learning rate or set trainer.grad_clip")
            entry = {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                     "lr": self.optimizer.param_groups[0]["lr"], "seconds": round(seconds, 2)}
            self.updater.add_epoch_counts(entry)
            if self.surgery is not None:
                entry["grad_surgery"] = self.surgery.take_stats()
            every = self.conf["eval_every"]
            if every and (epoch % every == 0 or epoch == self.conf["max_epochs"]):
                entry["eval"] = self.evaluate()
                log.info("epoch %d: validation %s", epoch, ", ".join(
                    f"{k} {v:.4g}" if v is not None else f"{k} undefined" for k, v in entry["eval"].items()))
            scheduler_step(self.scheduler, valid_loss)
            value = epoch_figure(entry, key)
            improved = better(value, best, mode)
            if improved:
                best, bad_epochs = value, 0
            elif value is not None:
                bad_epochs += 1
            patience = self.conf["patience"]
            stopped = patience is not None and bad_epochs >= patience
            entry.update({"best": improved, "selected": {"key": key, "value": value}})
            history.append(entry)
            if self.dist.is_main:
                self._log_epoch(entry, improved, stopped)
                if improved:
                    self._save_model(self.out_dir / "best.pth")
                    if self.conf["average_best"]:  # best.pth becomes the average at the end
                        self._save_model(self.out_dir / "best_single.pth")
                nbest.offer(epoch, value, self._save_model)
                save_training_state(self._state(epoch, history, best, bad_epochs, stopped), ckpt_dir)
                self._write_history(history)
        if self.writer:
            self.writer.close()
        self._finish(nbest)
        self.net = self.model   # drop the DDP wrapper before the process group goes (distributed.cleanup)
        return history

    def _log_epoch(self, entry, improved, stopped):
        key = self.best_conf["key"]
        figure = "" if key == "valid.loss" else f", {key} {entry['selected']['value']}"
        log.info("epoch %d: train loss %.5g, valid loss %.5g%s%s, lr %.3g, %.1f s", entry["epoch"],
                 entry["train_loss"], entry["valid_loss"], figure, " (best)" if improved else "",
                 entry["lr"], entry["seconds"])
        if stopped:
            log.info("early stopping: no better %s for %d epochs", key, self.conf["patience"])
        if self.writer:
            epoch = entry["epoch"]
            for name in ("train_loss", "valid_loss", "lr"):
                self.writer.add_scalar(f"epoch/{name}", entry[name], epoch)
            for name, value in (entry.get("eval") or {}).items():
                if value is not None:
                    self.writer.add_scalar(f"valid/{name}", value, epoch)
            if entry["selected"]["value"] is not None:
                self.writer.add_scalar(f"selected/{key}", entry["selected"]["value"], epoch)
            self.writer.flush()
