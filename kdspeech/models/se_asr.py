"""An enhancement front end cascaded with a recogniser in one model (joint SE + ASR training).

    model:
      name: se_asr
      conf:
        frontend: {name: dccrn, conf: {...}}        # or frontend_init: exp/<enhancement system>
        asr: {name: conformer_ctc, conf: {tokens: data/token_list/char/tokens.txt, ...}}
        freeze_frontend: false

forward(wav [B, N], input_len [B] = None, target=None, target_len=None) -> {"log_probs", "enc_len",
"wav"} (with a recogniser that has an attention decoder, also its ``enc_out`` and, given the targets,
which are passed through to it, ``att_logits``): the front end enhances the waveform, its output is cut
(or zero-padded) to N samples and zeroed beyond each utterance's length, and the recogniser
(``conformer_ctc``: log-mel features inside) decodes it.  ``log_probs`` is the primary output (the
``ctc`` term and the ``trained:`` ASR backend read it); ``wav`` is the enhanced speech, for an
enhancement term (``{name: si_snr, student_key: wav, target_key: reference}`` with the
asr task's ``data.reference: spk1``).  The model has the recogniser's ``tokens``, ``sr`` and ``hop``,
so its exp dir is a recogniser of noisy speech for ``--asr_backend trained:<exp dir>``.

``frontend_init``: an exp dir or model file (``best.pth``) of a trained enhancement model; the front
end is that model (its name and options from the file) with its weights.  The model file of a system
keeps the front end's name and options instead (``resolved_conf``), so it loads without that exp dir.
``tokens``: the recogniser's token list (a file or the list), over ``asr.conf.tokens`` (the same key
as ``conformer_ctc``'s, so what sets a recogniser's tokens sets this model's).  ``frontend_from``:
where the front end's weights came from (written by ``resolved_conf``; a record, not read).
``freeze_frontend``: the front end's weights do not train and it stays in eval mode (batch norm from
its running statistics); only the recogniser learns.

The training approaches of the Charishma paper (Tables 1, 3, 5, 6) that use this model, as defined by
the references it cites (the draft names them without defining them; egs/TEMPLATE/enh_asr/conf):

* Joint-Straight [22] (Li et al., EURASIP JASMP 2021, "Adversarial joint training with self-attention
  mechanism for robust end-to-end speech recognition"): front end and recogniser trained together by
  the recognition loss alone, from scratch.  [22]'s own system adds a GAN discriminator on the
  enhanced speech; its non-adversarial joint-training baseline is what "Straight" names, and what is
  implemented (loss ``ctc``).
* Joint-ASO [23] (Ma et al., APSIPA ASC 2021, "Multitask-based joint learning approach to robust ASR
  for radio communication speech"): multi-task training, the recognition loss plus a weighted
  enhancement loss on the front end's output, L = L_ctc + w L_si-snr (``si_snr`` on ``wav`` against
  the clean reference).  [23] trains from scratch; "ASO" is the asynchronous subregion optimisation
  of [25] (Lee and Kim, Sensors 2022), whose first step trains the front end alone on its enhancement
  loss and whose second trains everything on the weighted sum: ``frontend_init`` of a separately
  trained front end is that first step (the paper-size config does so; the CPU config may train from
  scratch as [23]).
* Joint-Grad [24] (Hu et al., ICASSP 2023, "Gradient remedy for multi-task learning in end-to-end
  noise-robust speech recognition"): Joint-ASO with ``trainer.grad_surgery: {main: [ctc], aux:
  [si_snr], method: remedy}`` (kdspeech.train.grad_surgery).
* Proposed: the KD-trained DCCRN student (L_r + L_e + L_d, trained by the enhancement template) as
  the front end, frozen (``frontend_init`` + ``freeze_frontend: true``), and the recogniser trained on
  its output by CTC.  The draft's Fig. 3 plots the proposed approach's training loss on its own axis,
  apart from the joint approaches' CTC losses, i.e. the front end is trained by its distillation loss
  and not by the recogniser's; its Table 5 gives the proposed front end's own speech quality.  Decoding
  the student's output with the MCT-noisy recogniser instead (no recogniser training: the
  standardize-SR arrangement) is a scoring row of the template, not a model.
"""

import logging

import torch
import torch.nn.functional as F
from torch import nn

from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.models.conformer_ctc import batch_lengths

log = logging.getLogger(__name__)


def _model_spec(spec, what):
    if not (isinstance(spec, dict) and spec.get("name")):
        raise KdError(f"se_asr: '{what}' must be {{name: <model>, conf: {{...}}}}, not {spec!r}")
    unknown = set(spec) - {"name", "conf"}
    if unknown:
        raise KdError(f"se_asr: '{what}' has unknown keys {sorted(unknown)} (known: conf, name)")
    return spec["name"], dict(spec.get("conf") or {})


def _read_model_file(path):
    """``(name, conf, state dict)`` of a kdspeech model file or exp dir."""
    from kdspeech.packing.load import is_packed
    from kdspeech.train.checkpoint import resolve_model_file

    path = resolve_model_file(path)
    if is_packed(path):
        raise KdError("se_asr: frontend_init takes an exp dir or its best.pth, not a packed model", path=path)
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model_name" not in state:
        raise KdError("se_asr: frontend_init is not a kdspeech model file", path=path)
    return state["model_name"], dict(state["model_conf"]), state["model"]


@MODELS.register("se_asr")
class SeAsr(nn.Module):
    def __init__(self, frontend=None, asr=None, frontend_init=None, freeze_frontend=False, tokens=None,
                 frontend_from=None):
        super().__init__()
        from kdspeech.models import build_model

        if asr is None:
            raise KdError("se_asr needs 'asr: {name: conformer_ctc, conf: {...}}' (the recogniser)")
        if frontend_init:
            name, conf, weights = _read_model_file(frontend_init)
            if frontend is not None and _model_spec(frontend, "frontend")[0] != name:
                raise KdError(f"se_asr: frontend names {frontend['name']}, but frontend_init holds a {name}",
                              path=frontend_init)
        elif frontend is not None:
            (name, conf), weights = _model_spec(frontend, "frontend"), None
        else:
            raise KdError("se_asr needs 'frontend: {name, conf}' or 'frontend_init: <exp dir of an "
                          "enhancement model>'")
        self.frontend_spec = {"name": name, "conf": conf}
        self.frontend = build_model(name, conf)
        if weights is not None:
            self.frontend.load_state_dict(weights)
        asr_name, asr_conf = _model_spec(asr, "asr")
        if tokens is not None:
            asr_conf["tokens"] = tokens
        self.asr = build_model(asr_name, asr_conf)
        for attr in ("tokens", "sr", "hop"):
            if not hasattr(self.asr, attr):
                raise KdError(f"se_asr: the recogniser {asr_name} has no '{attr}' (a model of task asr, "
                              "e.g. conformer_ctc)")
        self.tokens, self.sr, self.hop = self.asr.tokens, self.asr.sr, self.asr.hop
        self.freeze_frontend = bool(freeze_frontend)
        self.frontend_from = str(frontend_init) if frontend_init else frontend_from
        if self.freeze_frontend and not self.frontend_from:
            log.warning("se_asr: the front end is frozen at its initial (random) weights: give "
                        "frontend_init: <exp dir of the trained front end>")
        if self.freeze_frontend:
            for p in self.frontend.parameters():
                p.requires_grad_(False)
            self.frontend.eval()

    def train(self, mode=True):
        super().train(mode)
        if self.freeze_frontend:
            self.frontend.eval()
        return self

    def resolved_conf(self, conf):
        """What a model file keeps: the front end's name and options (not the exp dir it came from) and
        the recogniser's resolved options (its token list itself)."""
        asr_name, asr_conf = _model_spec(conf["asr"], "asr")
        if hasattr(self.asr, "resolved_conf"):
            asr_conf = self.asr.resolved_conf(asr_conf)
        if conf.get("tokens") is not None:
            asr_conf = {**asr_conf, "tokens": list(self.tokens)}
        out = {k: v for k, v in conf.items() if k not in ("frontend_init", "tokens")}
        return {**out, "frontend": dict(self.frontend_spec), "asr": {"name": asr_name, "conf": asr_conf},
                "frontend_from": self.frontend_from}

    def enhance(self, wav, input_len):
        """The front end's waveform, ``[B, N]``, zero beyond each utterance's length."""
        out = self.frontend(wav)
        if isinstance(out, dict):
            if "wav" not in out:
                raise KdError(f"se_asr: the front end {self.frontend_spec['name']} has no 'wav' output "
                              f"(outputs: {', '.join(out)})")
            out = out["wav"]
        out = out.reshape(out.shape[0], -1)[:, :wav.shape[-1]]
        if out.shape[-1] < wav.shape[-1]:
            out = F.pad(out, (0, wav.shape[-1] - out.shape[-1]))
        valid = torch.arange(out.shape[-1], device=out.device)[None] < input_len[:, None]
        return out * valid

    @property
    def decoder(self):
        """The recogniser's attention decoder (``conformer_ctc``'s ``decoder``), or None."""
        return getattr(self.asr, "decoder", None)

    def uses_input(self, name):
        """``target``/``target_len`` reach the recogniser when it has an attention decoder."""
        return self.decoder is not None if name in ("target", "target_len") else None

    def forward(self, wav, input_len=None, target=None, target_len=None):
        wav, input_len = batch_lengths(wav, input_len)
        if self.freeze_frontend:
            with torch.no_grad():
                enhanced = self.enhance(wav, input_len)
        else:
            enhanced = self.enhance(wav, input_len)
        if self.decoder is None:
            out = self.asr(enhanced, input_len)
            return {"log_probs": out["log_probs"], "enc_len": out["enc_len"], "wav": enhanced}
        out = self.asr(enhanced, input_len, target, target_len)
        return {"log_probs": out["log_probs"], "enc_len": out["enc_len"], "wav": enhanced,
                **{k: v for k, v in out.items() if k not in ("log_probs", "enc_len")}}
