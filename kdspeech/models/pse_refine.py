"""On-the-fly speaker-embedding refinement around a personalized enhancer (Serre et al., "Contrastive
Knowledge Distillation for Embedding Refinement in Personalized Speech Enhancement", section II-D).

``pse_refine`` wraps a personalized enhancer (``pdfnet2``, ``e3net``, ``dccrn`` with ``emb_dim``; any
registered model with ``forward(mix, enroll_emb)`` and ``num_frames(T)``) and a frozen speaker encoder.
For a mixture ``[B, T]`` and a reference embedding E ``[B, D]`` (the teacher's embedding of the
enrolment clip), the encoder embeds chunks of T' = ``chunk`` seconds of the mixture (50 % overlap,
``2 T / T' - 1`` of them), their cosines with E are brought to the enhancer's F frames, scaled by
``alpha`` and clipped to [0, 1] (``kdspeech.models.similarity``), and the enhancer receives the
frame-wise embedding ``[B, F, D + 1]`` = (E repeated over frames, similarity).  Returns
``{"out": enhanced [B, T] (the enhancer's primary output), "similarity": [B, F], "similarity_chunks": raw cosines [B, K], ...}`` plus
the enhancer's other outputs.

    model:
      name: pse_refine
      conf:
        enhancer: {name: pdfnet2, conf: {...}}         # built with emb_dim = D + 1
        encoder: {loader: kdspeech, path: ../../shared_speakers/spk/exp/contrastive}  # light (TinyECAPA)
        # encoder: {loader: resemblyzer, path: builtin}                              # oracle (teacher)
        chunk: 1.0          # T' in seconds
        alpha: 6.0          # null: no scaling, only clipping (the paper: 6 light, 2 oracle)

The encoder is a teacher-set member spec read through the loader registry.  It is frozen: no
gradients, eval mode even under ``.train()`` (its BatchNorm statistics never move), run under
``no_grad``.  It is a sub-module, so its parameters are in the model's state dict (a checkpoint is
self-contained) and ``count_parameters`` / ``complexity.count_macs`` include it, as the paper's
"Params"/"MACs" columns do; ``cost_split`` separates enhancer and encoder.

``chunking`` says how chunk embeddings are obtained:

* ``wave``: the mixture is cut into ``[B K, T']`` chunks and the encoder embeds each (its primary
  output, ``emb``): works with any encoder (Resemblyzer, ECAPA, TinyECAPA); each mixture sample is
  encoded twice (50 % overlap).
* ``encoder``: the encoder embeds the whole mixture once and returns per-chunk embeddings
  ``emb_chunks`` ``[B, K, D]`` itself (``tiny_ecapa`` with ``chunk: 1.0``, pooled per chunk: the
  paper's M = f_enc(Y), and how the contrastive TinyECAPA was trained); its chunk must be this T'.
* ``auto`` (default): ``encoder`` when a probe of the encoder returns ``emb_chunks``, else ``wave``.

D is the encoder's embedding size (found by a probe at construction, or ``emb_dim``).

Deployment (``kdspeech.bin.deploy``'s ``export_module`` hook): when the enhancer has that hook
(``pdfnet2``, ``dccrn``: the network between its STFT and iSTFT), the system exported to ONNX is ``RefineCore``: the encoder,
the similarity and the enhancer's exported module, taking the mixture (for the encoder), the
enhancer's module inputs (the noisy spectrum) and E; the host does the STFT and the iSTFT.  With an
enhancer without the hook the whole forward is exported.
"""

import torch
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS, build_model
from kdspeech.models.calling import as_outputs, input_names, primary
from kdspeech.models.similarity import (chunk_count, chunk_geometry, cosine_sequence, scale_clip,
                                        split_chunks, to_frames)

CHUNKINGS = ("auto", "wave", "encoder")
PROBE_SEED = 0


def _enhancer_spec(enhancer):
    if not isinstance(enhancer, dict) or "name" not in enhancer:
        raise KdError(f"pse_refine: 'enhancer' must be {{name: <model>, conf: {{...}}}}, not {enhancer!r}")
    unknown = set(enhancer) - {"name", "conf"}
    if unknown:
        raise KdError(f"pse_refine: enhancer has no key {', '.join(sorted(map(repr, unknown)))} "
                      "(keys: name, conf)")
    return enhancer["name"], dict(enhancer.get("conf") or {})


@MODELS.register("pse_refine")
class PseRefine(nn.Module):
    def __init__(self, enhancer, encoder, chunk=1.0, alpha=None, sr=16000, chunking="auto", emb_dim=None):
        super().__init__()
        if chunking not in CHUNKINGS:
            raise KdError(f"pse_refine: chunking must be one of {', '.join(CHUNKINGS)}, not {chunking!r}")
        if alpha is not None and float(alpha) <= 0:
            raise KdError(f"pse_refine: alpha must be > 0 or null (no scaling), not {alpha}")
        from kdspeech.models.loaders import load_member
        self.sr = int(sr)
        self.chunk_seconds = float(chunk)
        self.chunk, self.hop = chunk_geometry(chunk, self.sr)
        self.alpha = None if alpha is None else float(alpha)
        self.encoder = load_member(encoder)
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()
        self.chunking, probed_dim = self._probe(chunking)
        if emb_dim is not None and int(emb_dim) != probed_dim:
            raise KdError(f"pse_refine: emb_dim {emb_dim} but the encoder's embeddings have {probed_dim} values")
        self.emb_dim = probed_dim
        name, conf = _enhancer_spec(enhancer)
        if conf.get("emb_dim", self.emb_dim + 1) != self.emb_dim + 1:
            raise KdError(f"pse_refine: the enhancer's emb_dim is set by the wrapper to D + 1 = "
                          f"{self.emb_dim + 1}; remove emb_dim {conf['emb_dim']} from its conf")
        self.enhancer = build_model(name, {**conf, "emb_dim": self.emb_dim + 1})
        if not callable(getattr(self.enhancer, "num_frames", None)):
            raise KdError(f"pse_refine: enhancer '{name}' has no num_frames(T) (frame-wise embeddings "
                          "need its frame count)")

    # -- encoder ---------------------------------------------------------------------------------

    def _probe(self, chunking):
        """Run the encoder once on 3 chunks' worth of noise: the embedding size, and (``auto``) whether
        it returns its own chunk embeddings; in ``encoder`` mode their count must match T'."""
        length = 3 * self.chunk
        generator = torch.Generator().manual_seed(PROBE_SEED)
        probe = 0.1 * torch.randn(1, length, generator=generator)
        device = next((p.device for p in self.encoder.parameters()), torch.device("cpu"))
        with torch.no_grad():
            outputs = as_outputs(self.encoder(probe.to(device)))
        has_chunks = "emb_chunks" in outputs
        if chunking == "auto":
            chunking = "encoder" if has_chunks else "wave"
        if chunking == "wave":
            return chunking, int(primary(outputs).shape[-1])
        if not has_chunks:
            raise KdError("pse_refine: chunking 'encoder' needs an encoder that returns 'emb_chunks' "
                          f"(outputs: {', '.join(outputs)}); e.g. tiny_ecapa with chunk: "
                          f"{self.chunk_seconds}, or use chunking: wave")
        expected = chunk_count(length, self.chunk, self.hop)
        got = outputs["emb_chunks"].shape[1]
        if got != expected:
            raise KdError(f"pse_refine: the encoder returns {got} chunk embeddings for {length} samples, "
                          f"chunks of {self.chunk_seconds} s give {expected}: set the encoder's chunk to "
                          "the wrapper's 'chunk' or use chunking: wave")
        return chunking, int(outputs["emb_chunks"].shape[-1])

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()  # frozen: BatchNorm/dropout stay in inference mode
        return self

    def chunk_embeddings(self, mix):
        """``[B, K, D]`` encoder embeddings of the mixture's chunks (no gradient)."""
        with torch.no_grad():
            if self.chunking == "encoder":
                chunk_count(mix.shape[-1], self.chunk, self.hop)  # a mixture shorter than T' is an error
                return as_outputs(self.encoder(mix))["emb_chunks"]
            chunks = split_chunks(mix, self.chunk, self.hop)                     # [B, K, T']
            batch, count = chunks.shape[:2]
            emb = primary(as_outputs(self.encoder(chunks.reshape(batch * count, self.chunk))))
            return emb.reshape(batch, count, -1)

    # -- forward ---------------------------------------------------------------------------------

    def forward(self, mix, enroll_emb):
        if mix.dim() != 2:
            raise KdError(f"pse_refine: mix must be a waveform [B, T], got {tuple(mix.shape)}")
        if enroll_emb.dim() != 2 or enroll_emb.shape != (mix.shape[0], self.emb_dim):
            raise KdError(f"pse_refine: enroll_emb must be the reference embedding [B, {self.emb_dim}] "
                          f"(B = {mix.shape[0]}), got {tuple(enroll_emb.shape)}")
        refined, sim, raw = self.refined_embedding(mix, enroll_emb)
        out = as_outputs(self.enhancer(mix, refined))
        first = next(iter(out))   # the enhancer's primary output (pdfnet2/e3net: out, dccrn: wav)
        rest = {k: v for k, v in out.items() if k not in (first, "out", "similarity", "similarity_chunks")}
        return {"out": out[first], "similarity": sim, "similarity_chunks": raw, **rest}

    def refined_embedding(self, mix, enroll_emb):
        """``(refined [B, F, D + 1], similarity [B, F], raw chunk cosines [B, K])`` of a mixture ``[B, T]``
        and the reference embedding ``[B, D]``: what the enhancer is given."""
        num_samples = mix.shape[-1]
        num_frames = int(self.enhancer.num_frames(num_samples))
        raw = cosine_sequence(self.chunk_embeddings(mix), enroll_emb)           # [B, K]
        sim = scale_clip(to_frames(raw, num_frames, num_samples, self.chunk, self.hop), self.alpha)
        sim = sim.to(enroll_emb.dtype)
        refined = torch.cat([enroll_emb[:, None, :].expand(-1, num_frames, -1), sim[..., None]], dim=-1)
        return refined, sim, raw

    # -- deployment ------------------------------------------------------------------------------

    def export_module(self, inputs):
        """Deployment hook: ``(RefineCore, its inputs, what it is)`` when the enhancer has the hook
        (the enhancer's module is built for the refined embedding of these ``inputs``), else None (the
        whole forward is exported)."""
        hook = getattr(self.enhancer, "export_module", None)
        if not callable(hook):
            return None
        refined = self.refined_embedding(inputs["mix"], inputs["enroll_emb"])[0]
        first = input_names(self.enhancer)[0]  # the enhancer's waveform input (pdfnet2: mix, dccrn: wav)
        target = hook({first: inputs["mix"], "enroll_emb": refined})
        if target is None:
            return None
        core, core_inputs, what = target
        extra = {k: v for k, v in core_inputs.items() if k != "enroll_emb"}
        if set(extra) & {"mix", "enroll_emb"}:
            raise KdError(f"pse_refine: the enhancer's export module takes {sorted(core_inputs)}; "
                          "'mix' is the wrapper's own input")
        system_inputs = {"mix": inputs["mix"], **extra, "enroll_emb": inputs["enroll_emb"]}
        return RefineCore(self, core), system_inputs, f"encoder, similarity and the enhancer's {what}"

    # -- cost ------------------------------------------------------------------------------------

    def example_inputs(self, num_samples):
        """Batch-1 inputs for ``kdspeech.models.complexity``: seeded noise and a unit embedding."""
        generator = torch.Generator().manual_seed(PROBE_SEED)
        mix = torch.randn(1, int(num_samples), generator=generator)
        emb = nn.functional.normalize(torch.randn(1, self.emb_dim, generator=generator), dim=-1)
        return {"mix": mix, "enroll_emb": emb}


class RefineCore(nn.Module):
    """A ``pse_refine`` with its enhancer replaced by the enhancer's export module (``core``):
    ``forward(mix [B, T], enroll_emb [B, D], **core_inputs)`` (the core's keyword inputs but its
    embedding, e.g. ``noisy``: the mixture's spectrum) -> the core's outputs plus ``similarity`` and
    ``similarity_chunks``.  Shares the wrapper's encoder and the core's weights."""

    def __init__(self, refine, core):
        super().__init__()
        self.refine, self.core = refine, core

    def forward(self, mix, enroll_emb, **core_inputs):
        refined, sim, raw = self.refine.refined_embedding(mix, enroll_emb)
        out = as_outputs(self.core(**core_inputs, enroll_emb=refined))
        return {**out, "similarity": sim, "similarity_chunks": raw}


def cost_split(model, num_samples=16000):
    """Parameters and MACs (``complexity.count_macs`` on ``num_samples``) of a ``pse_refine``, split
    into ``enhancer``, ``encoder`` and ``total`` (the similarity arithmetic itself is element-wise and
    not counted)."""
    from kdspeech.models.complexity import count_macs, example_inputs
    total, by_layer = count_macs(model, example_inputs(model, num_samples), by_layer=True)

    def macs(prefix):
        return sum(v for k, v in by_layer.items() if k == prefix or k.startswith(prefix + "."))

    def params(module):
        return sum(p.numel() for p in module.parameters())

    return {"enhancer": {"params": params(model.enhancer), "macs": macs("enhancer")},
            "encoder": {"params": params(model.encoder), "macs": macs("encoder")},
            "total": {"params": params(model), "macs": total}}
