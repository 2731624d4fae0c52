"""The ASR training approaches of the Charishma paper (issue 22 item 2) at a tiny size, on four real
AN4 utterances mixed with NOISEX-92 babble at 5 dB: MCT-noisy (conformer_ctc on the mixtures),
MCT-all (on noisy + enhanced + clean), Joint-Straight, Joint-ASO and Joint-Grad (model se_asr), and
the proposed frozen KD front end before a trained recogniser, each trained a few updates through
kdspeech.bin.train and decoded through the trained: ASR backend; the template's configs of every
approach build (cpu and paper sizes)."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from kdspeech.asr import build_backend
from kdspeech.asr.tokens import write_token_list
from kdspeech.bin import train
from kdspeech.data.datadir import DataDir, write_kv
from kdspeech.distill.losses import build_loss_terms
from kdspeech.models import build_model
from kdspeech.tasks.asr import AsrDataset
from conftest import corpora_path

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "egs" / "TEMPLATE" / "asr" / "conf"
UTTS = {"an185-fnsv-b": "HELP", "an199-mgah-b": "NO", "an251-fash-b": "YES", "an388-mmtm-b": "START"}
ASR = {"name": "conformer_ctc", "conf": {"dim": 32, "heads": 2, "blocks": 1, "units": 64, "kernel": 7,
                                         "mels": 40, "hop": 320, "win_length": 512, "dropout": 0.0,
                                         "attention_dropout": 0.0, "specaug": {"time_masks": 0}}}
FRONT = {"name": "dccrn", "conf": {"channels": [4, 4], "lstm_units": 8, "lstm_layers": 1, "n_fft": 256,
                                   "win_length": 256, "hop": 128}}
STEPS = 2


def noisy_dir(corpora, root, snr=5.0):
    """Mixtures of the AN4 utterances with babble (wav.scp, spk1.scp, text, utt2spk)."""
    src = corpora / "asr" / "an4"
    paths = dict(line.split() for line in (src / "wav.list").read_text().splitlines())
    babble, _ = sf.read(corpora / "noise" / "noisex92" / "babble.flac", dtype="float32")
    (root / "wav").mkdir(parents=True)
    wav, spk1 = {}, {}
    for i, utt in enumerate(sorted(UTTS)):
        clean, sr = sf.read(src / paths[utt], dtype="float32")
        noise = babble[i * 20000:i * 20000 + len(clean)]
        gain = np.sqrt((clean ** 2).mean() / (noise ** 2).mean() / 10 ** (snr / 10))
        sf.write(root / "wav" / f"{utt}.wav", clean + gain * noise, sr)
        sf.write(root / "wav" / f"{utt}_clean.wav", clean, sr)
        wav[utt], spk1[utt] = str(root / "wav" / f"{utt}.wav"), str(root / "wav" / f"{utt}_clean.wav")
    write_kv(root / "wav.scp", wav)
    write_kv(root / "spk1.scp", spk1)
    write_kv(root / "text", UTTS)
    write_kv(root / "utt2spk", {u: u.split("-")[1] for u in UTTS})
    return root


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA")
    root = tmp_path_factory.mktemp("approaches")
    data = noisy_dir(Path(corpora), root / "noisy")
    write_token_list(data / "text", root / "tokens.txt")
    return root


def run_training(root, name, model, loss, data="noisy", reference=None, trainer=None, train_dir=None):
    tokens = str(root / "tokens.txt")
    conf = {"task": "asr", "data": {"token_list": tokens, "samples_per_frame": 1280, "reference": reference},
            "batch_size": 4, "num_workers": 0, "model": model, "loss": loss,
            "optim": {"name": "adam", "lr": 2e-3},
            "trainer": {"max_epochs": STEPS, "eval_every": STEPS, "tensorboard": False, "log_interval": 1000,
                        **(trainer or {})}}
    (root / f"{name}.yaml").write_text(yaml.safe_dump(conf))
    torch.manual_seed(0)
    out = root / "exp" / name
    train.main(["--config", str(root / f"{name}.yaml"), "--train_data", str(train_dir or root / data),
                "--valid_data", str(root / data), "--out_dir", str(out)])
    return out


def joint_model(root, **extra):
    return {"name": "se_asr", "conf": {"frontend": FRONT, "tokens": str(root / "tokens.txt"), "asr": ASR,
                                       **extra}}


def decodes(exp, data_dir):
    """The trained: backend's hypotheses of a data dir (strings, maybe empty)."""
    asr = build_backend(f"trained:{exp}")
    data = DataDir(data_dir)
    return {u: asr.transcribe(*data.load_audio(u)) for u in data.utts}


def history(exp):
    return json.loads((exp / "history.json").read_text())


def test_mct_noisy_and_mct_all(setup):
    exp = run_training(setup, "mct_noisy", {"name": "conformer_ctc", "conf": {
        **ASR["conf"], "tokens": str(setup / "tokens.txt")}}, [{"name": "ctc"}])
    assert len(history(exp)) == STEPS and set(decodes(exp, setup / "noisy")) == set(UTTS)
    # MCT-all: the union of noisy, enhanced (here by a frozen untrained front end) and clean speech
    from kdspeech.data.dir_ops import combine_dirs

    clean = setup / "clean"
    clean.mkdir()
    for name in ("text", "utt2spk"):
        (clean / name).write_text((setup / "noisy" / name).read_text())
    for name in ("wav.scp", "spk1.scp"):   # clean speech is its own reference
        (clean / name).write_text((setup / "noisy" / "spk1.scp").read_text())
    combine_dirs([setup / "noisy", clean], setup / "all", prefixes=["noisy-", "clean-"])
    exp = run_training(setup, "mct_all", {"name": "conformer_ctc", "conf": {
        **ASR["conf"], "tokens": str(setup / "tokens.txt")}}, [{"name": "ctc"}], train_dir=setup / "all")
    assert len(DataDir(setup / "all").utts) == 8 and set(decodes(exp, setup / "noisy")) == set(UTTS)


def test_joint_straight_trains_the_front_end_by_ctc_and_decodes_noisy_speech(setup):
    model = build_model("se_asr", joint_model(setup)["conf"])
    data = AsrDataset(setup / "noisy", token_list=setup / "tokens.txt", samples_per_frame=1280)
    batch = data.collate([data[i] for i in range(len(data))])
    out = model(batch["input"], batch["input_len"])
    assert list(out) == ["log_probs", "enc_len", "wav"] and out["wav"].shape == batch["input"].shape
    (_, _, ctc), = build_loss_terms([{"name": "ctc"}])
    ctc(out, batch, {}).backward()
    grads = [p.grad for p in model.frontend.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0

    exp = run_training(setup, "joint_straight", joint_model(setup), [{"name": "ctc"}])
    state = torch.load(exp / "best.pth", weights_only=False)
    assert state["model_conf"]["frontend"] == FRONT and isinstance(state["model_conf"]["asr"]["conf"]["tokens"], list)
    first = torch.load(exp / "best.pth", weights_only=False)["model"]
    assert any(k.startswith("frontend.") for k in first)
    assert set(decodes(exp, setup / "noisy")) == set(UTTS)   # a recogniser of noisy speech (trained:)


def test_joint_aso_loss_is_ctc_plus_weighted_si_snr(setup):
    from kdspeech.distill.loss_enh import si_snr

    data = AsrDataset(setup / "noisy", token_list=setup / "tokens.txt", samples_per_frame=1280, reference="spk1")
    batch = data.collate([data[i] for i in range(len(data))])
    assert batch["reference"].shape == batch["input"].shape
    model = build_model("se_asr", joint_model(setup)["conf"]).eval()
    out = model(batch["input"], batch["input_len"])
    terms = build_loss_terms([{"name": "ctc"}, {"name": "si_snr", "weight": 0.1, "student_key": "wav",
                                                "target_key": "reference"}])
    total = sum(w * term(out, batch, {}) for _, w, term in terms)
    (_, _, ctc), _ = terms
    expected = ctc(out, batch, {}) - 0.1 * si_snr(out["wav"], batch["reference"]).mean()
    assert torch.allclose(total, expected)

    exp = run_training(setup, "joint_aso", joint_model(setup), [
        {"name": "ctc"}, {"name": "si_snr", "weight": 0.1, "student_key": "wav", "target_key": "reference"}],
        reference="spk1")
    assert len(history(exp)) == STEPS
    assert set(decodes(exp, setup / "noisy")) == set(UTTS)


def test_joint_grad_logs_conflict_statistics(setup):
    exp = run_training(setup, "joint_grad", joint_model(setup), [
        {"name": "ctc"}, {"name": "si_snr", "weight": 0.1, "student_key": "wav", "target_key": "reference"}],
        reference="spk1", trainer={"grad_surgery": {"main": ["ctc"], "aux": ["si_snr"], "method": "remedy"}})
    stats = [entry["grad_surgery"] for entry in history(exp)]
    assert len(stats) == STEPS
    for s in stats:
        assert 0.0 <= s["conflict_rate"] <= 1.0 and -1.0 <= s["mean_cosine"] <= 1.0, s
    assert set(decodes(exp, setup / "noisy")) == set(UTTS)


def test_proposed_freezes_a_trained_front_end(setup):
    """A front end trained elsewhere (here: an enhancement exp dir of the tiny DCCRN) frozen before a
    recogniser trained by CTC; the model file carries the front end, not the exp dir's path."""
    from kdspeech.train.checkpoint import atomic_save

    front = build_model(FRONT["name"], FRONT["conf"])
    (setup / "exp" / "student").mkdir(parents=True, exist_ok=True)
    atomic_save({"model_name": FRONT["name"], "model_conf": FRONT["conf"], "model": front.state_dict()},
                setup / "exp" / "student" / "best.pth")
    model = {"name": "se_asr", "conf": {"frontend_init": str(setup / "exp" / "student"), "freeze_frontend": True,
                                        "tokens": str(setup / "tokens.txt"), "asr": ASR}}
    exp = run_training(setup, "proposed", model, [{"name": "ctc"}])
    state = torch.load(exp / "best.pth", weights_only=False)
    assert "frontend_init" not in state["model_conf"] and state["model_conf"]["frontend_from"]
    for key, value in front.state_dict().items():   # the front end did not train
        assert torch.equal(state["model"][f"frontend.{key}"], value), key
    assert set(decodes(exp, setup / "noisy")) == set(UTTS)


@pytest.mark.parametrize("scale", ["cpu", "paper"])
def test_every_approach_config_builds(scale, tmp_path):
    from kdspeech.dryrun.data import CHARS

    folder = CONF / "cpu" if scale == "cpu" else CONF
    names = sorted(p.name for p in folder.glob("train_asr_*.yaml"))
    assert names == ["train_asr_conformer_ctc.yaml", "train_asr_conformer_hybrid.yaml", "train_asr_joint_aso.yaml",
                     "train_asr_joint_grad.yaml", "train_asr_joint_straight.yaml", "train_asr_proposed.yaml"]
    for name in names:
        conf = yaml.safe_load((folder / name).read_text())
        assert conf["task"] == "asr"
        if conf["model"]["name"] == "se_asr":
            model = build_model("se_asr", {**conf["model"]["conf"], "tokens": CHARS})
            assert model.tokens == CHARS
        if "grad_surgery" in conf["trainer"]:
            assert conf["trainer"]["grad_surgery"]["main"] == ["ctc"]
