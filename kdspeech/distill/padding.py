"""Padded batches in the loss terms: the padding counts in no loss.

Batches of whole utterances of different lengths (``batch_seconds`` buckets, collated by
``kdspeech.train.loading.pad_collate``; the ``asr`` task's own ``collate``) are zero-padded to their
longest example and carry ``input_len``, each example's length in samples before padding.  A model's
output over the padding is not zero (a convolution spreads into it, a mask is applied to it), and a
loss averaged over the padded tensors would count it, weigh long utterances more and, for SI-SNR,
take the mean of the signal over the padding too.

Rule, applied in one place (``term_value``, which ``kdspeech.distill.losses.total_loss`` calls for
every term): on a padded batch (``input_len`` present and some example shorter than ``input``), a term
that compares signals sample by sample or frame by frame (``LossTerm.time_dim`` set: waveforms, spectra,
masks, frame posteriors) is computed on each utterance alone, on the valid part of every tensor it
reads (its student output, its teacher output, its batch keys and ``input``), and the batch's value
is the mean over utterances: the value is the mean of what each utterance gives alone, so a batch of
two utterances of different lengths gives the mean of their two losses.  Terms of one value per
example (``ce``, ``kl_logits``, the embedding terms) do not see the padding in their inputs and are
computed as they are; their ``pool: mean`` over frames leaves the padded frames out (``pool_mean``).
``ctc`` takes its own lengths.  On a batch without padding (fixed crops, every committed CPU recipe,
or a bucket of equal lengths) nothing changes: the term is called as it always was, bit for bit.

The valid part of a tensor whose time axis has ``n`` entries for ``T`` padded input samples is its
first ``ceil(length x n / T)`` entries (``valid_length``): exact for sample-aligned tensors
(``n = T``); for frames, the frames that begin before the utterance ends, which is exactly the frame
count of the utterance alone for a centred STFT when the lengths are multiples of the hop, and
otherwise at most one frame more (the last frame, which straddles the end of the utterance).  A term
that computes its own STFT from waveforms (``psa``, ``df_spectral``...) does so on the valid samples,
exactly as for the utterance alone.

Per-utterance evaluation costs one call of the term per example of a padded batch, small against
the forward and backward passes of the models.
"""

import torch


def padded_lengths(batch):
    """``input_len`` as a list when the batch is padded (an example shorter than ``input``), else None."""
    lengths, x = batch.get("input_len"), batch.get("input")
    if lengths is None or not torch.is_tensor(x) or x.dim() < 2:
        return None
    lengths = [int(n) for n in torch.as_tensor(lengths).reshape(-1).tolist()]
    return lengths if min(lengths) < x.shape[-1] else None


def valid_length(n, padded, length):
    """Entries of a time axis of ``n`` entries (for ``padded`` input samples) that an utterance of
    ``length`` samples fills: ``ceil(length * n / padded)``, within [1, n]."""
    return min(n, max(1, -(-length * n // padded)))


def _example(value, b, size, crop=None):
    """Example ``b`` of a batch value (a tensor or list over ``size`` examples; anything else as it
    is); ``crop``: (time axis, length, padded) of a tensor to cut to its valid part."""
    if torch.is_tensor(value) and value.dim() >= 1 and value.shape[0] == size:
        value = value[b:b + 1]
        if crop is not None and value.dim() >= 2:
            dim, length, padded = crop
            value = value.narrow(dim, 0, valid_length(value.shape[dim], padded, length))
        return value
    if isinstance(value, (list, tuple)) and len(value) == size:
        return [value[b]]
    return value


def _first_key(outputs, key):
    return key if key is not None else next(iter(outputs), None)


def term_value(term, out, batch, teacher_outs):
    """``term(out, batch, teacher_outs)``; on a padded batch, for a term with a ``time_dim``, the mean
    over utterances of the term on each one's valid part (see the module docstring)."""
    lengths = padded_lengths(batch)
    dim = getattr(term, "time_dim", None)
    if lengths is None or dim is None:
        return term(out, batch, teacher_outs)
    size, padded = len(lengths), batch["input"].shape[-1]
    student = _first_key(out, term.student_key)
    teacher = _first_key(teacher_outs.get(term.teacher, {}), term.teacher_key) if term.teacher else None
    reads = term.batch_keys() | {"input"}
    values = []
    for b, length in enumerate(lengths):
        crop = (dim, length, padded)
        sub_out = {k: _example(v, b, size, crop if k == student else None) for k, v in out.items()}
        sub_teachers = {name: {k: _example(v, b, size, crop if (name, k) == (term.teacher, teacher) else None)
                               for k, v in outs.items()} for name, outs in teacher_outs.items()}
        sub_batch = {k: _example(v, b, size, crop if k in reads else None) for k, v in batch.items()}
        sub_batch["input_len"] = torch.tensor([length])
        values.append(term(sub_out, sub_batch, sub_teachers))
    return torch.stack(values).mean()


def pool_mean(x, batch):
    """The mean of features ``[B, C, ...]`` over everything after the channels (``pool: mean`` of the
    embedding terms; a ``[B, C]`` tensor as it is); on a padded batch each example's mean over its
    valid frames (the last axis), so padded frames do not count."""
    if x.dim() <= 2:
        return x
    lengths = padded_lengths(batch)
    if lengths is None or len(lengths) != x.shape[0]:
        return x.flatten(2).mean(-1)
    padded = batch["input"].shape[-1]
    return torch.cat([x[b:b + 1, ..., :valid_length(x.shape[-1], padded, n)].flatten(2).mean(-1)
                      for b, n in enumerate(lengths)])
