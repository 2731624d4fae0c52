"""The data contract of a training, checked before the first batch (ESPnet's required data names).

What the batches must hold: the inputs the student's forward takes (``calling.needed_keys``), the
keys every loss term reads (``LossTerm.batch_keys``: ``target``, a noisy ``input``...) and those of
the teacher sets the terms read (their input view, routing key, ``key`` of a cache or of precomputed
outputs: ``batch_keys`` of the sets).  What the dataset yields: the keys of its first example (an
example is a function of (seed, epoch, index), so looking at one changes nothing).  A key that one of
them needs and the dataset does not yield is a ``KdError`` naming the keys, who needs them and the
dataset, before anything is trained, instead of a ``KeyError`` at step 1.

    check_data_contract(model, "dccrn", terms, teachers, train_set, "training")
"""

from kdspeech.errors import KdError
from kdspeech.models.calling import needed_keys


def needs(model, model_name, terms, teachers):
    """``[(who, keys)]``: what the model, each term and each teacher set the terms read need."""
    out = [(f"model '{model_name}' (its forward)", needed_keys(model))]
    sets = []
    for label, _, term in terms:
        out.append((f"loss term '{label}'", term.batch_keys()))
        if term.teacher and term.teacher not in sets:
            sets.append(term.teacher)
    for name in sets:
        teacher = teachers.get(name)
        if teacher is not None and hasattr(teacher, "batch_keys"):
            out.append((f"teacher set '{name}'", teacher.batch_keys()))
    return out


def dataset_name(dataset):
    """The data dir a dataset reads, or its class name."""
    folder = getattr(getattr(dataset, "dir", None), "path", None)
    return str(folder) if folder is not None else type(dataset).__name__


def check_data_contract(model, model_name, terms, teachers, dataset, role):
    """Raise a ``KdError`` when ``dataset`` (``role``: training, validation) lacks a key that the
    model, a term of ``terms`` or a teacher set they read needs."""
    if len(dataset) == 0:
        return
    yields = set(dataset[0])
    missing = [(who, sorted(keys - yields)) for who, keys in needs(model, model_name, terms, teachers)
               if keys - yields]
    if missing:
        what = "; ".join(f"{who} needs {', '.join(map(repr, keys))}" for who, keys in missing)
        raise KdError(f"the {role} data does not hold what the training needs: {what} (its examples "
                      f"have {', '.join(sorted(yields))})", path=dataset_name(dataset))
