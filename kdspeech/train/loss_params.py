"""The learned parameters of loss terms: shared between the training and validation lists, all of
them in the optimizer.

A loss term may have parameters (the learned temperature of ``contrastive``, the ``proj`` of the
embedding terms); they train with the student.  A config's ``valid_loss`` may repeat such a term of
``loss``: the validation list then reads the training term itself (one module, one set of
parameters), never a second, untrained copy, and never in its place.  A learned validation term that
repeats no training term with the same options would keep its initial parameters: that is an error.

    >>> valid = share_learned_terms(train_terms, valid_terms, where="conf/kd.yaml")
    >>> add_term_parameters(optimizer, train_terms)   # logs what the optimizer holds, checks it
"""

import logging

from kdspeech.errors import KdError

log = logging.getLogger(__name__)


def learned(term):
    """The names of a term's parameters that train (``requires_grad``)."""
    return [name for name, p in term.named_parameters() if p.requires_grad]


def _identity(term):
    """What makes two terms the same: the class and the options they were built from (the weight is
    not an option: the same term may weigh differently in the two sums)."""
    spec = getattr(term, "spec", None)
    return (type(term), repr(sorted(spec.items()))) if spec is not None else (type(term), id(term))


def share_learned_terms(train_terms, valid_terms, where=None):
    """``valid_terms`` with each learned term replaced by the training term it repeats.

    Terms are ``(label, weight, module)`` triples (``build_loss_terms``).  A learned validation term
    repeats a training term when both were built from the same name and options; the one of the same
    label is preferred when the training list holds several.  Terms without parameters are kept as
    they are (nothing of theirs is trained).
    """
    if not valid_terms:
        return valid_terms
    shared = []
    for label, weight, term in valid_terms:
        names = learned(term)
        if not names:
            shared.append((label, weight, term))
            continue
        same = [(lab, t) for lab, _, t in train_terms if t is term or _identity(t) == _identity(term)]
        if not same:
            raise KdError(f"valid_loss term '{label}' has learned parameters ({', '.join(names)}) but "
                          "repeats no term of 'loss' with the same options, so they would never be "
                          "trained; repeat the training term exactly (its weight may differ) or make "
                          "the validation term fixed", path=where)
        chosen_label, chosen = next(((lab, t) for lab, t in same if lab == label), same[0])
        if chosen is not term:
            log.info("valid_loss term '%s' is loss term '%s' (one module: its learned %s train once)",
                     label, chosen_label, ", ".join(names))
        shared.append((label, weight, chosen))
    return shared


def add_term_parameters(optimizer, train_terms, where=None):
    """Put the training terms' learned parameters into ``optimizer`` (a group of their own), check
    that it holds every one of them, and log what it trains.  Returns the added parameters."""
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    extra, names, seen = [], [], set()
    for label, _, term in train_terms:
        for name, p in term.named_parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            names.append(f"{label}.{name}")
            if id(p) not in held:
                extra.append(p)
    if extra:
        optimizer.add_param_group({"params": extra})
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [n for (label, _, term) in train_terms for n, p in term.named_parameters()
               if p.requires_grad and id(p) not in held]
    if missing:
        raise KdError(f"the optimizer does not hold the learned loss-term parameters {', '.join(missing)}",
                      path=where)
    model_params = sum(p.numel() for group in optimizer.param_groups for p in group["params"]
                       if id(p) not in seen)
    if names:
        log.info("optimizer: %d model parameters and the learned loss-term parameters %s",
                 model_params, ", ".join(names))
    else:
        log.info("optimizer: %d model parameters; no loss term has learned parameters", model_params)
    return extra
