"""kdspeech.bin.enhance with personalized models: the enrolment embedding of each utterance's speaker
(or of the utterance itself) reaches forward(mix, enroll_emb), and missing speakers, embeddings or
options are errors naming the file."""

import numpy as np
import pytest
import torch
from torch import nn

from kdspeech.bin.enhance import main
from kdspeech.data.audio import load_audio, save_audio
from kdspeech.errors import KdError
from kdspeech.models import MODELS
from kdspeech.train.checkpoint import atomic_save

SR = 16000


class ScaleBySpeaker(nn.Module):
    """Personalized-enhancer contract; its output is the mixture times the embedding's first value."""

    def __init__(self, emb_dim=4):
        super().__init__()
        self.emb_dim = emb_dim
        self.gain = nn.Parameter(torch.ones(1))

    def forward(self, mix, enroll_emb):
        return {"out": mix * enroll_emb[:, :1] * self.gain, "similarity": enroll_emb.sum(-1)}


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))

    def forward(self, mix):
        return mix * self.gain


for _name, _cls in (("test_enh_scale_by_speaker", ScaleBySpeaker), ("test_enh_plain", Plain)):
    if _name not in MODELS.names():
        MODELS.register(_name)(_cls)


@pytest.fixture
def setup(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    utts = {"a_u1": "spkA", "a_u2": "spkA", "b_u1": "spkB"}
    lines = []
    for utt in utts:
        path = tmp_path / "wav" / f"{utt}.wav"
        save_audio(path, (0.3 * rng.uniform(-1, 1, 800)).astype(np.float32), SR)
        lines.append(f"{utt} {path}\n")
    (data / "wav.scp").write_text("".join(lines))
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts.items()))
    for name in ("test_enh_scale_by_speaker", "test_enh_plain"):
        model = MODELS.build(name, {})
        atomic_save({"model_name": name, "model_conf": {}, "model": model.state_dict()}, tmp_path / f"{name}.pth")
    return tmp_path, data, utts


def table(path, keys, firsts):
    emb = np.zeros((len(keys), 4), np.float32)
    emb[:, 0] = firsts
    emb[:, 1] = 0.1
    np.savez(path, keys=np.array(keys), emb=emb)
    return path


def enhance(tmp_path, data, model, out, *extra):
    return main(["--model", str(tmp_path / f"{model}.pth"), "--data", str(data), "--out_dir", str(out), *extra])


@pytest.mark.parametrize("keyed_by", ["speaker", "utterance"])
def test_each_utterance_gets_its_speakers_embedding(setup, keyed_by):
    tmp_path, data, utts = setup
    gains = {"spkA": 0.5, "spkB": -2.0}
    if keyed_by == "speaker":
        npz = table(tmp_path / "emb.npz", list(gains), list(gains.values()))
    else:
        npz = table(tmp_path / "emb.npz", list(utts), [gains[s] for s in utts.values()])
    out = tmp_path / "enh"
    assert enhance(tmp_path, data, "test_enh_scale_by_speaker", out, "--enroll_emb", str(npz)) == 0
    assert main(["--data", str(data), "--out_dir", str(out), "--merge"]) == 0
    scp = dict(line.split(" ", 1) for line in (out / "wav.scp").read_text().splitlines())
    for utt, spk in utts.items():
        mix, _ = load_audio(str(tmp_path / "wav" / f"{utt}.wav"), sr=SR)
        est, _ = load_audio(scp[utt], sr=SR)
        expected = np.clip(mix * gains[spk], -1, 1)
        assert np.max(np.abs(est - expected)) < 2e-4, utt


def test_missing_speaker_or_embedding_names_the_file(setup):
    tmp_path, data, utts = setup
    npz = table(tmp_path / "emb.npz", ["spkA"], [1.0])
    with pytest.raises(KdError, match=f"{npz}: utterance b_u1 \\(speaker spkB\\) has no enrolment embedding"):
        enhance(tmp_path, data, "test_enh_scale_by_speaker", tmp_path / "o1", "--enroll_emb", str(npz))
    (data / "utt2spk").write_text("a_u1 spkA\na_u2 spkA\n")
    npz = table(tmp_path / "emb2.npz", ["spkA", "spkB"], [1.0, 1.0])
    with pytest.raises(KdError, match=f"{data / 'utt2spk'}: utterance b_u1 has no embedding in .*emb2.npz "
                                      "and no speaker entry"):
        enhance(tmp_path, data, "test_enh_scale_by_speaker", tmp_path / "o2", "--enroll_emb", str(npz))
    assert not (tmp_path / "o1" / "wav").exists() and not (tmp_path / "o2" / "wav").exists()


def test_enrolment_option_must_match_the_model(setup):
    tmp_path, data, _ = setup
    with pytest.raises(KdError, match="ScaleBySpeaker.forward takes enroll_emb.*give --enroll_emb"):
        enhance(tmp_path, data, "test_enh_scale_by_speaker", tmp_path / "o")
    npz = table(tmp_path / "emb.npz", ["spkA", "spkB"], [1.0, 1.0])
    with pytest.raises(KdError, match="--enroll_emb given but Plain.forward takes no enroll_emb"):
        enhance(tmp_path, data, "test_enh_plain", tmp_path / "o", "--enroll_emb", str(npz))
    assert enhance(tmp_path, data, "test_enh_plain", tmp_path / "plain") == 0


def test_plain_dccrn_needs_no_enrolment_and_pdccrn_does():
    """dccrn's forward(wav, enroll_emb=None) serves both: emb_dim decides whether enroll_emb is needed."""
    from kdspeech.models import build_model
    from kdspeech.models.calling import takes_input

    conf = {"channels": [4, 8], "lstm_units": 8, "lstm_layers": 1}
    assert not takes_input(build_model("dccrn", conf), "enroll_emb")
    assert takes_input(build_model("dccrn", {**conf, "emb_dim": 4}), "enroll_emb")
    assert takes_input(build_model("pdfnet2", {"emb_dim": 4, "conv_ch": 8, "emb_hidden": 16, "df_hidden": 16}),
                       "enroll_emb")
