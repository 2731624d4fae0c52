"""The model of a ``kdspeech`` subcommand: a packed file or an exp dir, checked against the subcommand.

    model = open_model("model.zip", "enhance", device)     # model.meta: its card

``kdspeech.load`` rebuilds it; the card's task must be one the subcommand applies (``enhance``:
enhancement; ``classify``: classification; ``embed`` / ``verify``: speaker_embedding), and every
input the model takes besides the audio must be one the subcommand gives (none, today: a
personalized enhancer needs its enrolment through ``python -m kdspeech.bin.enhance --enroll_emb``).
"""

import torch

from kdspeech.errors import KdError

TASKS_OF = {
    "enhance": ("enhancement", "personalized_enhancement"),
    "classify": ("classification",),
    "embed": ("speaker_embedding",),
}
SUBCOMMAND_OF = {"enhancement": "enhance", "personalized_enhancement": "enhance",
                 "classification": "classify", "speaker_embedding": "embed or verify",
                 "asr": "transcribe --backend trained:<model>"}


def open_model(path, subcommand, device):
    """The ready model of ``path`` for ``subcommand`` (see the module text)."""
    from kdspeech.models.calling import input_names, takes_input
    from kdspeech.packing.load import load

    model = load(path, device=device)
    task = model.meta.get("task")
    if task not in TASKS_OF[subcommand]:
        other = SUBCOMMAND_OF.get(task)
        raise KdError(f"a {task} model: kdspeech {subcommand} applies {' or '.join(TASKS_OF[subcommand])} "
                      "models" + (f" (use kdspeech {other})" if other else ""), path=path)
    extra = [n for n in input_names(model)[1:] if takes_input(model, n)]
    if extra:
        raise KdError(f"{type(model).__name__} also takes {', '.join(extra)} (a personalized model); the "
                      "kdspeech command gives audio only: use python -m kdspeech.bin.enhance --enroll_emb",
                      path=path)
    return model


def set_threads(num_threads):
    if num_threads:
        torch.set_num_threads(int(num_threads))
