"""The asr task, the conformer_ctc model, the ctc loss term, CTC decoding and the trained: ASR backend.

A tiny Conformer-CTC trained by the one trainer (kdspeech.bin.train) on four real AN4 utterances
(shared corpora) learns them within 40 updates; the exp dir it leaves decodes a data dir through the
trained: backend with the same hypotheses in any order and through the scoring verb."""

import logging
import math

import numpy as np
import pytest
import torch
import yaml

from kdspeech.asr import build_backend
from kdspeech.asr.ctc_decode import beam_search, greedy
from kdspeech.asr.tokens import read_token_list, write_token_list
from kdspeech.bin import score, train
from kdspeech.data.datadir import write_kv
from kdspeech.distill.losses import build_loss_terms
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.tasks.asr import AsrDataset, pad_batch
from conftest import corpora_path

UTTS = {"an185-fnsv-b": "HELP", "an199-mgah-b": "NO", "an251-fash-b": "YES", "an388-mmtm-b": "START"}
# 20 ms frames (hop 320): half the compute of 10 ms, and CER 0 by update 40 at seeds 0-2 (with hop 160,
# update 60 was at CER 0-0.36 depending on the seed)
TINY = {"dim": 64, "heads": 2, "blocks": 2, "units": 128, "kernel": 15, "mels": 40, "hop": 320,
        "win_length": 512, "dropout": 0.0, "attention_dropout": 0.0,
        "specaug": {"freq_masks": 1, "freq_width": 4, "time_masks": 0}}
EPOCHS = 40   # one update each


def an4_dir(corpora, root, utts=UTTS, texts=None):
    src = corpora / "asr" / "an4"
    wavs = dict(line.split() for line in (src / "wav.list").read_text().splitlines())
    root.mkdir(parents=True, exist_ok=True)
    write_kv(root / "wav.scp", {u: str(src / wavs[u]) for u in utts})
    write_kv(root / "text", texts or utts)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An exp dir of a tiny conformer_ctc trained on four AN4 words (train = validation set)."""
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA")
    root = tmp_path_factory.mktemp("asr")
    data = an4_dir(corpora, root / "data")
    write_token_list(data / "text", root / "tokens.txt")
    conf = {"task": "asr", "data": {"token_list": str(root / "tokens.txt"), "samples_per_frame": 1280},
            "batch_size": 4, "num_workers": 0,
            "model": {"name": "conformer_ctc", "conf": {"tokens": str(root / "tokens.txt"), **TINY}},
            "loss": [{"name": "ctc"}], "optim": {"name": "adam", "lr": 2e-3},
            "trainer": {"max_epochs": EPOCHS, "eval_every": EPOCHS, "tensorboard": False, "log_interval": 1000}}
    (root / "conf.yaml").write_text(yaml.safe_dump(conf))
    torch.manual_seed(0)
    train.main(["--config", str(root / "conf.yaml"), "--train_data", str(data), "--valid_data", str(data),
                "--out_dir", str(root / "exp")])
    return root


def test_tiny_conformer_ctc_learns_real_utterances(trained):
    import json

    history = json.loads((trained / "exp" / "history.json").read_text())
    assert history[-1]["valid_loss"] < history[0]["valid_loss"] / 5
    assert history[-1]["eval"]["cer"] <= 0.1 and history[-1]["eval"]["wer"] <= 0.25
    state = torch.load(trained / "exp" / "best.pth", weights_only=False)
    assert state["model_conf"]["tokens"] == read_token_list(trained / "tokens.txt")   # carried, not a path


def test_trained_backend_decodes_in_any_order_alike(trained, tmp_path):
    from kdspeech.data.datadir import DataDir

    asr = build_backend(f"trained:{trained / 'exp'}")
    data = DataDir(trained / "data")
    audio = {u: data.load_audio(u) for u in data.utts}
    forward = {u: asr.transcribe(*audio[u]) for u in data.utts}
    again = build_backend("trained", {"model": str(trained / "exp" / "best.pth"), "beam": 4})
    backward = {u: again.transcribe(*audio[u]) for u in reversed(data.utts)}
    assert backward == forward
    assert sum(h == UTTS[u].lower() for u, h in forward.items()) >= 3
    x, sr = audio["an199-mgah-b"]
    from kdspeech.data.resample import resample
    assert isinstance(asr.transcribe(resample(x, sr, 8000), 8000), str)   # another rate is resampled

    out = tmp_path / "score"
    common = ["--est_scp", str(trained / "data" / "wav.scp"), "--text", str(trained / "data" / "text"),
              "--out_dir", str(out), "--metrics", "wer,cer", "--asr_backend", f"trained:{trained / 'exp'}"]
    for job in (2, 1):   # the second half first
        score.main(common + ["--nj", "2", "--job", str(job)])
    score.main(common + ["--nj", "2", "--merge"])
    hyps = dict(line.partition(" ")[::2] for line in (out / "hyp.txt").read_text().splitlines())
    assert hyps == forward
    from kdspeech.asr import backend_identity
    from kdspeech.resume import file_digest
    # scores are keyed by the model file's content, so a retrained recogniser rescores
    assert backend_identity(f"trained:{trained / 'exp'}") == f"trained:{file_digest(trained / 'exp' / 'best.pth')}"
    assert backend_identity("pocketsphinx") == "pocketsphinx"


def test_a_packed_recogniser_decodes_like_its_exp_dir(trained, tmp_path):
    from kdspeech.data.datadir import DataDir
    from kdspeech.packing.pack import pack

    card = pack(trained / "exp", tmp_path / "asr.zip")
    assert card["task"] == "asr" and card["output"] == {"kind": "transcript", "tokens": len(
        read_token_list(trained / "tokens.txt"))}
    data = DataDir(trained / "data")
    packed, exp = build_backend(f"trained:{tmp_path / 'asr.zip'}"), build_backend(f"trained:{trained / 'exp'}")
    for utt in data.utts:
        assert packed.transcribe(*data.load_audio(utt)) == exp.transcribe(*data.load_audio(utt))


def test_trained_backend_rejects_a_model_that_is_not_a_recogniser(tmp_path):
    from kdspeech.train.checkpoint import atomic_save

    model = build_model("crn", {})
    atomic_save({"model_name": "crn", "model_conf": {}, "model": model.state_dict()}, tmp_path / "best.pth")
    with pytest.raises(KdError, match="not a trained recogniser"):
        build_backend(f"trained:{tmp_path}")
    with pytest.raises(KdError, match="model file not found"):
        build_backend(f"trained:{tmp_path / 'none'}")


def test_greedy_and_beam_search():
    rng = np.random.default_rng(0)
    # peaked: every frame has one token at probability ~0.99; both decoders give the best path
    best = rng.integers(0, 5, size=40)
    peaked = np.full((40, 5), 0.0025)
    peaked[np.arange(40), best] = 0.99
    assert beam_search(np.log(peaked), beam=8) == greedy(np.log(peaked))
    # two frames of P(blank) 0.6, P(a) 0.4: the best path is blank-blank (0.36), but "a" has 0.64
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert greedy(lp) == [] and beam_search(lp, beam=4) == [1]
    # a wide beam finds the most probable labelling of a random 5-frame, 3-token distribution
    probs = rng.dirichlet(np.ones(3), size=5)
    assert beam_search(np.log(probs), beam=50) == list(exhaustive_best(probs))


def exhaustive_best(probs):
    """The labelling with the highest summed path probability, by enumerating every path."""
    from itertools import product

    totals = {}
    for path in product(range(probs.shape[1]), repeat=len(probs)):
        p = math.prod(probs[t, k] for t, k in enumerate(path))
        collapsed = tuple(k for i, k in enumerate(path) if k != 0 and (i == 0 or path[i - 1] != k))
        totals[collapsed] = totals.get(collapsed, 0.0) + p
    return max(totals, key=totals.get)


def test_ctc_gradient_reaches_an_enhancement_front_end(corpora, tmp_path):
    data = an4_dir(corpora, tmp_path / "data")
    tokens = write_token_list(data / "text", tmp_path / "tokens.txt")
    batch = pad_batch([AsrDataset(data, token_list=tmp_path / "tokens.txt")[i] for i in range(2)])
    enhancer = torch.nn.Conv1d(1, 1, 9, padding=4)   # a front end before the recogniser
    asr = build_model("conformer_ctc", {"tokens": tokens, **TINY})
    out = asr(enhancer(batch["input"][:, None])[:, 0], batch["input_len"])
    (_, _, ctc), = build_loss_terms([{"name": "ctc"}])
    ctc(out, batch, {}).backward()
    assert enhancer.weight.grad is not None and float(enhancer.weight.grad.abs().sum()) > 0


def test_specaugment_in_training_mode_only():
    tokens = ["<blank>", "<space>", "a"]
    model = build_model("conformer_ctc", {"tokens": tokens, **TINY, "specaug": {"time_masks": 5}})
    x = torch.randn(1, 16000)
    model.eval()
    a, b = model(x)["log_probs"], model(x)["log_probs"]
    assert torch.equal(a, b)
    model.train()
    feats, lengths = model.features(x, torch.tensor([16000]))
    assert not torch.equal(model.specaug(feats, lengths), feats)


def test_bad_transcripts_are_named(corpora, tmp_path, caplog):
    data = an4_dir(corpora, tmp_path / "data")
    (tmp_path / "tokens.txt").write_text("<blank>\n<space>\ne\nh\nl\no\np\ns\nt\na\nr\ny\n")   # no 'n'
    with pytest.raises(KdError, match=r"utterance an199-mgah-b \(.*text:2\): characters \['n'\] are not in"):
        AsrDataset(data, token_list=tmp_path / "tokens.txt")
    write_token_list(data / "text", tmp_path / "tokens.txt")   # every character of the four words
    (data / "text").write_text("")
    with pytest.raises(KdError, match="text is empty"):
        AsrDataset(data, token_list=tmp_path / "tokens.txt")
    with pytest.raises(KdError, match="text: the text file is empty"):
        write_token_list(data / "text", tmp_path / "t2.txt")
    an4_dir(corpora, data, texts={**UTTS, "an251-fash-b": "..."})
    with pytest.raises(KdError, match=r"an251-fash-b \(.*text:3\): transcript '...' has no character left"):
        AsrDataset(data, token_list=tmp_path / "tokens.txt")
    # a one-second utterance cannot carry 40 labels at 640 samples per encoder frame (24 frames)
    an4_dir(corpora, data, texts={**UTTS, "an185-fnsv-b": "HELP " * 8})
    with caplog.at_level(logging.WARNING):
        dataset = AsrDataset(data, token_list=tmp_path / "tokens.txt")
    assert dataset.utts == ["an199-mgah-b", "an251-fash-b", "an388-mmtm-b"]
    assert "text: 1 of 4 utterances dropped, shorter than their CTC label sequence" in caplog.text
    assert "an185-fnsv-b" in caplog.text


def test_ctc_term_leaves_out_an_utterance_without_alignment(caplog):
    (_, _, ctc), = build_loss_terms([{"name": "ctc"}])
    log_probs = torch.log_softmax(torch.randn(2, 4, 3, requires_grad=True), -1)
    batch = {"target": torch.tensor([[1, 2, 1, 2, 1], [1, 2, 0, 0, 0]]), "target_len": torch.tensor([5, 2]),
             "key": ["long", "short"]}
    with caplog.at_level(logging.WARNING):
        loss = ctc({"log_probs": log_probs, "enc_len": torch.tensor([4, 4])}, batch, {})
    assert math.isfinite(float(loss.detach())) and ctc.dropped == 1
    assert "utterance long has 4 encoder frames" in caplog.text
    with pytest.raises(KdError, match="beyond the model's 3 outputs"):
        ctc({"log_probs": log_probs, "enc_len": torch.tensor([4, 4])},
            {**batch, "target": torch.tensor([[3, 0, 0, 0, 0], [1, 0, 0, 0, 0]])}, {})
