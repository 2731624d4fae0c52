"""Hybrid CTC/attention: conformer_ctc's optional attention decoder (kdspeech.models.att_decoder), the
att_ce loss term, attention rescoring (kdspeech.asr.rescore), and se_asr with a decoder inside
(training and decoding an exp dir: test_asr_hybrid_train.py).

Without a decoder the model is the one it was before the decoder existed (the same state_dict keys
and parameters, outputs and inputs); the decoder is causal; att_ce is checked against a hand
computation; rescoring picks what the decoder prefers on a constructed n-best."""

import hashlib
import math

import numpy as np
import pytest
import torch

from kdspeech.asr.ctc_decode import beam_search, nbest
from kdspeech.asr.rescore import attention_rescoring, choose, decoding_options
from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.models.calling import call_model, model_inputs, needed_keys

TOKENS = ["<blank>", "<space>", "a", "b"]
SMALL = {"dim": 32, "heads": 2, "blocks": 2, "units": 64, "kernel": 7, "mels": 20, "hop": 320,
         "win_length": 512, "n_fft": 512}
DECODER = {"layers": 2, "heads": 2, "units": 64, "dropout": 0.0}
# The same model, seed and input before the decoder option existed (commit 493670f): sha256 of the
# state_dict's key names and of its parameters' bytes, and the sum of the eval-mode log-probabilities.
BEFORE = {"keys": "35706df3a3fee7487bf5998706476ad62f9d779d2f1ef9874d55a6669cc75543",
          "params": "264dec474cf84f7eb29624f91d585beec4800109f596704fd874eaf2eba74ecf",
          "sum": -62.60996502637863, "n": 92}


def small(decoder=None, seed=0):
    torch.manual_seed(seed)
    conf = {"tokens": TOKENS, **SMALL, **({"decoder": decoder} if decoder is not None else {})}
    return build_model("conformer_ctc", conf)


def inputs():
    x = torch.randn(2, 8000, generator=torch.Generator().manual_seed(1))
    return x, torch.tensor([8000, 6000])


def batch_of(target, target_len):
    x, lens = inputs()
    return {"input": x, "input_len": lens, "target": target, "target_len": target_len}


def test_without_decoder_the_model_is_as_before():
    model = small().eval()
    sd = model.state_dict()
    assert len(sd) == BEFORE["n"]
    assert hashlib.sha256("\n".join(sd).encode()).hexdigest() == BEFORE["keys"]
    assert hashlib.sha256(b"".join(v.numpy().tobytes() for v in sd.values())).hexdigest() == BEFORE["params"]
    batch = batch_of(torch.tensor([[2, 3], [3, 0]]), torch.tensor([2, 1]))
    assert "target" not in model_inputs(model, batch) and needed_keys(model) == {"input"}
    with torch.no_grad():
        out = call_model(model, batch)
    assert list(out) == ["log_probs", "enc_len"]
    # float32 kernels sum in an order that depends on the thread count: equal within float32 rounding
    assert math.isclose(float(out["log_probs"].double().sum()), BEFORE["sum"], rel_tol=1e-5)
    # with a decoder: the encoder and CTC head are the same parameters, drawn first, and give the same
    hybrid = small(DECODER).eval()
    hsd = hybrid.state_dict()
    assert [k for k in hsd if not k.startswith("decoder.")] == list(sd)
    assert all(torch.equal(hsd[k], v) for k, v in sd.items())
    assert needed_keys(hybrid) == {"input", "target", "target_len"}
    with torch.no_grad():
        hout = call_model(hybrid, batch)
    assert list(hout) == ["log_probs", "enc_len", "enc_out", "att_logits"]
    assert torch.equal(hout["log_probs"], out["log_probs"])
    with pytest.raises(KdError, match=r"decoder options \['layer'\] unknown"):
        small({"layer": 2})


def test_teacher_forcing_shapes_and_causality():
    model = small(DECODER).eval()
    target = torch.tensor([[2, 3, 2, 1], [3, 2, 0, 0]])
    with torch.no_grad():
        out = model(*inputs(), target=target, target_len=torch.tensor([4, 2]))
        assert out["att_logits"].shape == (2, 5, len(TOKENS))
        changed = target.clone()
        changed[0, 2] = 3                                    # a later token of utterance 0
        again = model(*inputs(), target=changed, target_len=torch.tensor([4, 2]))
    # position i predicts token i from <sos> + tokens < i: positions 0..2 do not see token 2
    assert torch.equal(again["att_logits"][0, :3], out["att_logits"][0, :3])
    assert not torch.allclose(again["att_logits"][0, 3:], out["att_logits"][0, 3:])
    assert torch.equal(again["att_logits"][1], out["att_logits"][1])
    # the padding of utterance 1 is never attended to: its valid positions are those of it alone
    with torch.no_grad():
        x, lens = inputs()
        alone = model(x[1:, :6000], lens[1:], target=target[1:, :2], target_len=torch.tensor([2]))
    assert torch.allclose(alone["att_logits"][0], out["att_logits"][1, :3], atol=1e-5)


def test_att_ce_by_hand_with_label_smoothing_and_padding():
    (_, _, term), = build_loss_terms([{"name": "att_ce", "lsm_weight": 0.1}])
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 5)
    target, target_len = torch.tensor([[1, 2, 3], [4, 0, 0]]), torch.tensor([3, 1])
    value = term({"att_logits": logits}, {"target": target, "target_len": target_len}, {})
    expected = 0.0
    for b, ys in enumerate([[1, 2, 3, 0], [4, 0]]):   # the tokens then <eos> (id 0)
        for i, y in enumerate(ys):
            logp = torch.log_softmax(logits[b, i].double(), -1)
            q = torch.full((5,), 0.1 / 4, dtype=torch.double)
            q[y] = 0.9
            expected += float(-(q * logp).sum())
    assert math.isclose(float(value), expected / 2, rel_tol=1e-6)
    padded = logits.clone()
    padded[1, 2:] = 100.0                                 # beyond target_len + 1 of utterance 1
    assert float(term({"att_logits": padded}, {"target": target, "target_len": target_len}, {})) == float(value)
    (_, _, plain), = build_loss_terms([{"name": "att_ce", "lsm_weight": 0.0}])
    one = plain({"att_logits": logits[1:, :2]}, {"target": target[1:, :1], "target_len": target_len[1:]}, {})
    ce = torch.nn.functional.cross_entropy(logits[1, :2], torch.tensor([4, 0]), reduction="sum")
    assert math.isclose(float(one), float(ce), rel_tol=1e-6)
    with pytest.raises(KdError, match="no output 'att_logits'"):
        term({"log_probs": logits}, {"target": target, "target_len": target_len}, {})


def test_hybrid_loss_config_and_a_backward_pass():
    model = small(DECODER)
    batch = batch_of(torch.tensor([[2, 3], [3, 0]]), torch.tensor([2, 1]))
    terms = build_loss_terms([{"name": "ctc", "weight": 0.3}, {"name": "att_ce", "weight": 0.7}])
    loss, parts = total_loss(terms, call_model(model, batch), batch, {})
    assert math.isclose(float(loss.detach()), 0.3 * float(parts["ctc"]) + 0.7 * float(parts["att_ce"]), rel_tol=1e-6)
    loss.backward()
    assert model.decoder.embed.weight.grad.abs().sum() > 0 and model.subsample.out.weight.grad.abs().sum() > 0


class PreferB:
    """A stand-in decoder: log P_att 0 for the hypothesis [2, 3], -5 for any other."""

    def score(self, memory, memory_len, hyps):
        return torch.tensor([0.0 if list(h) == [2, 3] else -5.0 for h in hyps])


def test_rescoring_picks_the_hypothesis_the_decoder_prefers():
    # two frames: CTC's best labelling is [2] (a), [2, 3] (a b) a little less probable
    probs = np.array([[0.05, 0.0, 0.9, 0.05], [0.45, 0.0, 0.15, 0.4]])
    lp = np.log(np.maximum(probs, 1e-12))
    hyps = nbest(lp, 4)
    assert list(hyps[0][0]) == beam_search(lp, 4) == [2] and (2, 3) in [h for h, _ in hyps]
    assert hyps[0][1] > dict(hyps)[(2, 3)]
    enc, enc_len = torch.zeros(1, 2, 8), torch.tensor([2])
    assert attention_rescoring(PreferB(), enc, enc_len, lp, beam=4, ctc_weight=0.3) == [2, 3]
    assert attention_rescoring(PreferB(), enc, enc_len, lp, beam=4, ctc_weight=1.0) == [2]   # CTC alone
    assert choose([-1.0, -1.0], [-2.0, -2.0], 0.3) == 0   # a tie: the CTC search's order
    # the real decoder's scores are log-probabilities of whole hypotheses (<eos> included)
    model = small(DECODER).eval()
    with torch.no_grad():
        out = model(*inputs())
        scores = model.decoder.score(out["enc_out"][:1], out["enc_len"][:1], [[], [2], [2, 3]])
        forced = model(*inputs(), target=torch.tensor([[2, 3], [2, 3]]), target_len=torch.tensor([2, 2]))
    logp = torch.log_softmax(forced["att_logits"][0], -1)
    assert torch.allclose(scores[2], logp[0, 2] + logp[1, 3] + logp[2, 0], atol=1e-5)
    assert bool((scores < 0).all())
    with pytest.raises(KdError, match="method rescore needs a model with an attention decoder"):
        decoding_options("rescore", model=small())
    assert decoding_options("auto", model=model) == ("rescore", 10, 0.3)
    assert decoding_options("auto", model=small()) == ("ctc", 1, 0.3)


def test_se_asr_passes_targets_to_its_recogniser():
    conf = {"frontend": {"name": "dccrn", "conf": {"channels": [4, 4], "lstm_units": 8, "lstm_layers": 1,
                                                    "n_fft": 256, "win_length": 256, "hop": 128}},
            "asr": {"name": "conformer_ctc", "conf": {**SMALL, "blocks": 1}}, "tokens": TOKENS}
    plain = build_model("se_asr", conf)
    batch = batch_of(torch.tensor([[2, 3], [3, 0]]), torch.tensor([2, 1]))
    assert needed_keys(plain) == {"input"} and list(call_model(plain, batch)) == ["log_probs", "enc_len", "wav"]
    hybrid = build_model("se_asr", {**conf, "asr": {"name": "conformer_ctc",
                                                     "conf": {**SMALL, "blocks": 1, "decoder": DECODER}}})
    assert needed_keys(hybrid) == {"input", "target", "target_len"} and hybrid.decoder is hybrid.asr.decoder
    out = call_model(hybrid, batch)
    assert list(out)[:3] == ["log_probs", "enc_len", "wav"] and out["att_logits"].shape == (2, 3, len(TOKENS))
    (_, _, att), = build_loss_terms([{"name": "att_ce"}])
    att(out, batch, {}).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in hybrid.frontend.parameters())


def test_the_hybrid_configs_build():
    from pathlib import Path

    import yaml

    from kdspeech.dryrun.data import CHARS

    conf_dir = Path(__file__).resolve().parents[1] / "egs" / "TEMPLATE" / "asr" / "conf"
    sizes = {}
    for scale, folder in (("paper", conf_dir), ("cpu", conf_dir / "cpu")):
        conf = yaml.safe_load((folder / "train_asr_conformer_hybrid.yaml").read_text())
        assert [t["name"] for t in conf["loss"]] == ["ctc", "att_ce"]
        assert [t["weight"] for t in conf["loss"]] == [0.3, 0.7] and conf["loss"][1]["lsm_weight"] == 0.1
        model = build_model("conformer_ctc", {**conf["model"]["conf"], "tokens": CHARS[:28]})
        sizes[scale] = sum(p.numel() for p in model.parameters())
        assert model.decoder is not None
    assert conf_dir.joinpath("train_asr_conformer_hybrid.yaml").read_text().count("decoder: {layers: 6, heads: 4, "
                                                                                  "units: 2048")
    assert round(sizes["paper"] / 1e6, 1) == 30.4 and round(sizes["cpu"] / 1e6, 1) == 4.6   # as the headers say
