"""Streaming inference: one hop of samples in, one hop out (or k hops, ``hops_per_step``), with an
explicit, bounded state (issue 23).

Protocol (``StreamingModel``, ``base.py``): ``init_state(batch)`` returns a fresh state, a flat dict
of tensors (dotted names) plus ``"tag"``; ``step(chunk [B, hop], state) -> (out [B, hop], state)``
consumes exactly one hop; ``delay`` (samples): the concatenated outputs equal the offline ``forward``
of the whole signal delayed by ``delay`` samples (the first ``delay`` output samples precede the
signal); ``flush(state) -> tail [B, delay]``: the last ``delay`` samples of a finite file, so that
``run`` + ``flush`` minus the first ``delay`` samples is the offline output, sample for sample
(``run_file``); ``sample_rate`` and ``check_rate(sr)``.  The state's size is fixed by the
configuration and the batch (never by the length of the stream).  State checks: the tag carries the
state version, the model class, its sample rate and layout sizes; a state with another tag, or with
tensors of other names or shapes, is a KdError naming what differs; a chunk of another length too.

Several hops a step (``stream_model(model, hops_per_step=k)``; CRN, DCCRN family, pDeepFilterNet2,
E3Net, pse_refine; TinyECAPA's chunk embeddings frame by frame, the embeddings of the windows a step
completes): ``step`` takes and returns ``[B, k
hop]`` (``step_size``), the k frames' convolutions and linear layers batched once the stream is past
its warm-up (recurrent layers frame by frame inside); the state's layout and tag are those of k = 1;
``delay`` (the alignment) is unchanged and the algorithmic latency (``latency``) grows by ``(k - 1)
hop``: a step waits for its k hops.

Adapters (``stream_model(model, **kwargs)``; delays at the default configurations, 16 kHz):

* ``CrnStream`` (``crn.py``): 320 samples (20 ms).
* ``DccrnStream`` (``dccrn.py``): DCCRN, DCCRN-CL and pDCCRN (``enroll_emb``): 456 samples (28.5 ms).
* ``PDfNet2Stream`` (``pdfnet2.py``): pDeepFilterNet2 / DeepFilterNet2 (``enroll_emb`` when
  ``emb_dim`` > 0): 800 samples (50 ms: half a window + 2 frames of convolution look-ahead + 2 of
  deep-filter look-ahead).
* ``E3NetStream`` (``e3net.py``): 160 samples (10 ms).
* ``PseRefineStream`` (``pse.py``): ``pse_refine`` around any of the personalized ones, the speaker
  embedding refined on the fly (Serre et al. II-D; the update rule, its rate and how it differs from
  the offline model are in ``pse.py``): the enhancer's delay.
* ``TinyEcapaStream`` (``tiny_ecapa.py``): a stream of chunk embeddings (``chunk_mode: split``, or
  the split equivalent of a pooled model on request), each 800 samples after its window.

Every adapter reuses the model's own modules (no copy) and leaves its offline ``forward`` untouched;
models must be in eval mode (BatchNorm running statistics).  ``stream_model`` raises a KdError naming
the model and why for those that cannot stream (``NOT_STREAMABLE``).
"""

from kdspeech.errors import KdError
from kdspeech.models.streaming.base import STATE_VERSION, StreamingModel, state_numel

__all__ = ["NOT_STREAMABLE", "STATE_VERSION", "StreamingModel", "state_numel", "stream_model"]

#: models that cannot stream, and why (the message of ``stream_model``)
NOT_STREAMABLE = {
    "WaveUNet": "its convolutions are non-causal (each output sample sees future samples) and its "
                "down/up-sampling works on whole segments",
    "ConformerEnh": "its self-attention and convolutions see the whole utterance (full context, no "
                    "causal masking)",
    "PsmBlstm": "its bidirectional LSTM needs the end of the signal before the first output",
    "ConformerCtc": "it is a full-context recogniser, not a waveform-to-waveform model",
    "EcapaTaoRuijie": "its attentive statistics pooling (global mean/std context) and its front end's "
                      "mean normalisation need the whole clip",
    "EcapaSpeechBrain": "its attentive statistics pooling (global mean/std context) and its "
                        "Squeeze-Excitation means need the whole clip",
}


def stream_model(model, **kwargs):
    """The streaming adapter of ``model`` (keyword arguments go to the adapter: ``enroll_emb``,
    ``sample_rate``, ``initial``, ``chunk_mode``, ``hops_per_step``), or a KdError naming the model and why it cannot
    stream."""
    from kdspeech.models.crn import CRN
    from kdspeech.models.dccrn import DCCRN
    from kdspeech.models.e3net import E3Net
    from kdspeech.models.pdfnet2 import PDeepFilterNet2
    from kdspeech.models.pse_refine import PseRefine
    from kdspeech.models.tiny_ecapa import TinyEcapa
    if isinstance(model, CRN):
        from kdspeech.models.streaming.crn import CrnStream
        return CrnStream(model, **kwargs)
    if isinstance(model, DCCRN):
        from kdspeech.models.streaming.dccrn import DccrnStream
        return DccrnStream(model, **kwargs)
    if isinstance(model, PDeepFilterNet2):
        from kdspeech.models.streaming.pdfnet2 import PDfNet2Stream
        return PDfNet2Stream(model, **kwargs)
    if isinstance(model, E3Net):
        from kdspeech.models.streaming.e3net import E3NetStream
        return E3NetStream(model, **kwargs)
    if isinstance(model, PseRefine):
        from kdspeech.models.streaming.pse import PseRefineStream
        return PseRefineStream(model, **kwargs)
    if isinstance(model, TinyEcapa):
        from kdspeech.models.streaming.tiny_ecapa import TinyEcapaStream
        return TinyEcapaStream(model, **kwargs)
    name = type(model).__name__
    why = NOT_STREAMABLE.get(name)
    if why is None:
        why = ("no streaming step is implemented for it (adapters exist for CRN, DCCRN, pDeepFilterNet2, "
               "E3Net, pse_refine and TinyECAPA's chunk embeddings)")
    raise KdError(f"{name} cannot stream: {why}")
