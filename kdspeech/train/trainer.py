"""The one training loop of kdspeech: supervised, distilled, one process or DDP.

Per epoch: train over a seeded shuffle, validate, step the schedule, save the full state
(``checkpoints/last.pth``, previous kept) and the best model (``best.pth``), stop early after
``patience`` epochs without a better validation loss.  With ``eval_every: N``, every N epochs the main
process also enhances the whole validation utterances (``eval_set``) and records the mean of
``eval_metrics`` (PESQ, STOI, ...) in the epoch's history entry under ``eval``.  Epoch ``e`` is seeded from (seed, e) alone, so a
run killed at any point and restarted from its last checkpoint ends with the same weights as an
uninterrupted run on the same machine.
"""

import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler
from tqdm import tqdm

from kdspeech.distill.losses import total_loss
from kdspeech.train.checkpoint import atomic_save, load_training_state, save_training_state
from kdspeech.train.distributed import DistInfo, all_reduce_sum
from kdspeech.train.optim import scheduler_step

log = logging.getLogger(__name__)

TRAINER_DEFAULTS = {
    "max_epochs": 10,
    "patience": None,       # epochs without a better validation loss before stopping (None: never)
    "grad_clip": None,      # max gradient norm (None: no clipping)
    "log_interval": 20,     # steps between progress lines in the log
    "tensorboard": True,
    "num_threads": None,    # torch intra-op threads (None: torch's default)
    "device": "auto",       # auto | cpu | cuda
    "eval_every": None,     # epochs between validation-metric evaluations (None: never)
    "eval_metrics": ["pesq_wb", "stoi"],  # kdspeech.metrics.enhancement names for eval_every
    "eval_data": {"segment": 0},          # data options of the evaluation set (0: whole utterances)
}


def _to_device(batch, device):
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


class Trainer:
    def __init__(self, model, optimizer, scheduler, loss_terms, train_set, valid_set, out_dir, *,
                 teachers=None, valid_terms=None, batch_size=16, valid_batch_size=None, seed=1,
                 conf=None, model_name=None, model_conf=None, dist_info=None, num_workers=0,
                 eval_set=None):
        self.conf = {**TRAINER_DEFAULTS, **(conf or {})}
        self.dist = dist_info or DistInfo()
        self.device = self.dist.device
        self.model = model.to(self.device)
        self.net = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loss_terms = loss_terms
        self.valid_terms = valid_terms or loss_terms
        self.teachers = teachers or {}
        self.train_set, self.valid_set = train_set, valid_set
        self.eval_set = eval_set
        if self.conf["eval_every"] and eval_set is None:
            raise ValueError("trainer.eval_every is set but no evaluation set was given")
        self.batch_size = batch_size
        self.valid_batch_size = valid_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.out_dir = Path(out_dir)
        self.model_name, self.model_conf = model_name, model_conf or {}
        self.writer = None

    # -- data -----------------------------------------------------------------------------------
    def _loader(self, dataset, epoch, train):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        if self.dist.enabled:
            sampler = DistributedSampler(dataset, shuffle=train, seed=self.seed)
            sampler.set_epoch(epoch)
        elif train:
            gen = torch.Generator().manual_seed(self.seed * 100003 + epoch)
            sampler = RandomSampler(dataset, generator=gen)
        else:
            sampler = SequentialSampler(dataset)
        return DataLoader(dataset, batch_size=self.batch_size if train else self.valid_batch_size,
                          sampler=sampler, num_workers=self.num_workers)

    # -- one step -------------------------------------------------------------------------------
    def _teacher_outs(self, batch, terms):
        needed = {term.teacher for _, _, term in terms if term.teacher}
        return {name: self.teachers[name](batch) for name in needed}

    def train_step(self, batch):
        batch = _to_device(batch, self.device)
        teacher_outs = self._teacher_outs(batch, self.loss_terms)
        out = self.net(batch["input"])
        loss, parts = total_loss(self.loss_terms, out, batch, teacher_outs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.conf["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.conf["grad_clip"])
        self.optimizer.step()
        return loss.detach(), parts

    def train_epoch(self, epoch):
        self.net.train()
        torch.manual_seed(self.seed * 100003 + epoch)
        loader = self._loader(self.train_set, epoch, train=True)
        total, count, t0 = torch.zeros(()), 0, time.time()
        show = self.dist.is_main and sys.stderr.isatty()
        for step, batch in enumerate(tqdm(loader, desc=f"epoch {epoch}", disable=not show, leave=False), 1):
            loss, parts = self.train_step(batch)
            n = len(batch["input"])
            total += loss.cpu() * n
            count += n
            if step % self.conf["log_interval"] == 0 and self.dist.is_main:
                terms = " ".join(f"{k}={v.item():.4g}" for k, v in parts.items())
                log.info("epoch %d step %d/%d loss %.4g (%s) %.2f s/step", epoch, step, len(loader),
                         loss.item(), terms, (time.time() - t0) / step)
                if self.writer:
                    self.writer.add_scalar("train/loss_step", loss.item(),
                                           (epoch - 1) * len(loader) + step)
        summed, n = all_reduce_sum([total.item(), count], self.dist)
        return summed / max(n, 1), time.time() - t0

    @torch.no_grad()
    def validate(self):
        self.net.eval()
        loader = self._loader(self.valid_set, 0, train=False)
        total, count = 0.0, 0
        for batch in loader:
            batch = _to_device(batch, self.device)
            out = self.model(batch["input"])
            loss, _ = total_loss(self.valid_terms, out, batch, self._teacher_outs(batch, self.valid_terms))
            n = len(batch["input"])
            total += loss.item() * n
            count += n
        summed, n = all_reduce_sum([total, count], self.dist)
        return summed / max(n, 1)

    @torch.no_grad()
    def evaluate(self):
        """Mean of each ``eval_metrics`` over the evaluation set, one whole utterance at a time."""
        from kdspeech.metrics.enhancement import compute

        self.model.eval()
        sr = self.eval_set.sr
        sums, counts = {}, {}
        for index in range(len(self.eval_set)):
            item = self.eval_set[index]
            est = self.model(item["input"][None].to(self.device))[0].cpu().numpy()
            for name, value in compute(self.conf["eval_metrics"], item["target"].numpy(), est, sr).items():
                if math.isfinite(value):
                    sums[name] = sums.get(name, 0.0) + value
                    counts[name] = counts.get(name, 0) + 1
        return {name: (sums[name] / counts[name] if counts.get(name) else None)
                for name in self.conf["eval_metrics"]}

    # -- state ----------------------------------------------------------------------------------
    def _model_file(self):
        return {"model_name": self.model_name, "model_conf": self.model_conf,
                "model": self.model.state_dict()}

    def _state(self, epoch, history, best, bad_epochs, stopped):
        return {**self._model_file(), "epoch": epoch, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "history": history, "best": best,
                "bad_epochs": bad_epochs, "stopped": stopped, "run_key": self.run_key}

    def _restore(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        return state["epoch"], state["history"], state["best"], state["bad_epochs"], state["stopped"]

    def _write_history(self, history):
        tmp = self.out_dir / f".history.json.tmp.{os.getpid()}"
        tmp.write_text(json.dumps(history, indent=1))
        os.replace(tmp, self.out_dir / "history.json")

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, run_key=None):
        """Train to the end; ``run_key`` names what this run is made from (config, data, stage
        fingerprint): checkpoints of a run with another key are set aside, not resumed."""
        ckpt_dir = self.out_dir / "checkpoints"
        self.run_key = run_key
        state = load_training_state(ckpt_dir)
        if state is not None and state.get("run_key") != run_key:
            stale = ckpt_dir.with_name(f"checkpoints.stale.{int(time.time())}")
            log.warning("checkpoints in %s were made from another config or input; moved to %s, "
                        "training from scratch", ckpt_dir, stale)
            if self.dist.is_main:
                os.replace(ckpt_dir, stale)
            state = None
        epoch, history, best, bad_epochs, stopped = 0, [], math.inf, 0, False
        if state is not None:
            epoch, history, best, bad_epochs, stopped = self._restore(state)
            log.info("resumed after epoch %d (best valid loss %.5g)", epoch, best)
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
            scheduler_step(self.scheduler, valid_loss)
            lr = self.optimizer.param_groups[0]["lr"]
            improved = valid_loss < best
            best, bad_epochs = (valid_loss, 0) if improved else (best, bad_epochs + 1)
            patience = self.conf["patience"]
            stopped = patience is not None and bad_epochs >= patience
            history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                            "lr": lr, "seconds": round(seconds, 2), "best": improved})
            every = self.conf["eval_every"]
            if every and self.dist.is_main and (epoch % every == 0 or stopped
                                                or epoch == self.conf["max_epochs"]):
                history[-1]["eval"] = self.evaluate()
                log.info("epoch %d: validation %s", epoch, ", ".join(
                    f"{k} {v:.4g}" if v is not None else f"{k} undefined" for k, v in history[-1]["eval"].items()))
            if self.dist.is_main:
                log.info("epoch %d: train loss %.5g, valid loss %.5g%s, lr %.3g, %.1f s", epoch, train_loss,
                         valid_loss, " (best)" if improved else "", lr, seconds)
                if improved:
                    atomic_save(self._model_file(), self.out_dir / "best.pth")
                save_training_state(self._state(epoch, history, best, bad_epochs, stopped), ckpt_dir)
                self._write_history(history)
                if self.writer:
                    for key in ("train_loss", "valid_loss", "lr"):
                        self.writer.add_scalar(f"epoch/{key}", history[-1][key], epoch)
                    for key, value in (history[-1].get("eval") or {}).items():
                        if value is not None:
                            self.writer.add_scalar(f"eval/{key}", value, epoch)
                    self.writer.flush()
            if stopped:
                log.info("early stopping: no better validation loss for %d epochs", bad_epochs)
        if self.writer:
            self.writer.close()
        return history
