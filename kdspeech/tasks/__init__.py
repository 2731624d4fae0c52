"""Tasks: what a data dir becomes for training, what the model receives, how it is validated.

A task (registered in ``TASKS``) owns
* its dataset: items are dicts; the collated batch holds ``input`` (the main input, which the first
  parameter of a model's forward receives), ``target``, and whatever else the model takes by name
  (``enroll_emb``), teachers see (``input_16k``) or route by (``snr``), plus ``key`` (an id per
  example, for teacher-output caches);
* its validation evaluation: ``evaluate(model, dataset, indices, device, metrics)`` returns one
  record per example (each DDP rank scores its own share of the set), and ``summarize(records,
  metrics, dataset)`` turns the records of all ranks into figures such as ``pesq_wb``, ``macro_f1``
  or ``eer``.  The trainer knows none of this; it logs the figures as ``valid.<name>`` and can
  select its best model by any of them (``trainer.best``).
"""

import numpy as np
import torch
from torch.utils.data import default_collate

from kdspeech.errors import KdError
from kdspeech.models.calling import call_model, primary
from kdspeech.registry import Registry

TASKS = Registry("task")


class Task:
    """Base of the tasks: a dataset class, the metrics its evaluation knows, and the evaluation."""

    dataset_class = None
    metrics = ()                 # names evaluate() can compute
    default_metrics = ()         # computed when trainer.eval_metrics is not set

    def data_defaults(self):
        """The data options (config key ``data:``) and their defaults."""
        return dict(getattr(self.dataset_class, "options", {}))

    def build_dataset(self, data_dir, conf, train, seed, where=None):
        return self.dataset_class.from_config(data_dir, conf, train=train, seed=seed, where=where)

    def check_metrics(self, names, where=None):
        unknown = [n for n in names if n not in self.metrics]
        if unknown:
            raise KdError(f"task '{self.name}' cannot evaluate {unknown} (it knows: {', '.join(self.metrics)})",
                          path=where)

    def forward_one(self, model, item, device):
        """The outputs of ``model`` on one dataset item (a batch of one)."""
        batch = default_collate([{k: v for k, v in item.items() if k != "key"}])
        batch = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in batch.items()}
        return call_model(model, batch)

    def evaluate(self, model, dataset, indices, device, metrics):
        raise NotImplementedError

    def summarize(self, records, metrics, dataset):
        """Mean of each metric over the records where it is finite (None where it never is)."""
        out = {}
        for name in metrics:
            values = [r[name] for r in records if name in r and np.isfinite(r[name])]
            out[name] = float(np.mean(values)) if values else None
        return out


def get_task(name):
    _import_all()
    task = TASKS.get(name)()
    task.name = name
    return task


def build_dataset(task, data_dir, conf, train, seed, where=None):
    return get_task(task).build_dataset(data_dir, conf, train, seed, where)


def _import_all():
    from kdspeech.tasks import asr, classification, enhancement, speaker  # noqa: F401  (register themselves)


def output_of(outputs, key=None):
    """One output of a model's dict: ``key``, else the primary one."""
    return outputs[key] if key else primary(outputs)
