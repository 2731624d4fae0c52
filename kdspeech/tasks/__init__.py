"""Tasks: how a data dir becomes batches for the trainer.

A task builds a ``torch.utils.data.Dataset`` whose items are dicts; the collated batch has at least
``input`` (what the student sees) and ``target``, plus whatever teachers route by or look at
(``snr``, ``input_16k``, ...) and ``key`` (a string per example, for teacher-output caching).
"""

from kdspeech.registry import Registry

TASKS = Registry("task")


def build_dataset(task, data_dir, conf, train, seed, where=None):
    from kdspeech.tasks import classification, enhancement  # noqa: F401  (register themselves)

    dataset_cls = TASKS.get(task)
    return dataset_cls.from_config(data_dir, conf, train=train, seed=seed, where=where)
