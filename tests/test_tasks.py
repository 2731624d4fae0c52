"""Tasks own their inputs and their validation evaluation: speaker embedding (EER), personalized
enhancement (enrolment inputs), classification figures; a contrastive-KD training selected by EER."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from kdspeech.bin import train
from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.tasks import get_task
from kdspeech.train.checkpoint import atomic_save

SR = 16000


def make_speaker_dir(root, speakers=4, per_spk=3, seed=0, trials=True):
    """Each 'speaker' is a harmonic tone of its own pitch in a little noise."""
    rng = np.random.default_rng(seed)
    wav, utt2spk = {}, {}
    t = np.arange(int(0.5 * SR)) / SR
    for s in range(speakers):
        f0 = 120 + 90 * s
        for k in range(per_spk):
            utt = f"spk{s}-u{k}"
            x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in (1, 2, 3))
            x = 0.2 * x + 0.01 * rng.standard_normal(len(t))
            save_audio(root / "wav" / f"{utt}.wav", x.astype(np.float32), SR)
            wav[utt], utt2spk[utt] = str(root / "wav" / f"{utt}.wav"), f"spk{s}"
    write_kv(root / "wav.scp", wav)
    write_kv(root / "utt2spk", utt2spk)
    if trials:
        utts = sorted(wav)
        lines = [f"{a} {b} {'target' if utt2spk[a] == utt2spk[b] else 'nontarget'}\n"
                 for i, a in enumerate(utts) for b in utts[i + 1:]]
        (root / "trials").write_text("".join(lines))
    return root


class PitchEmbedder(nn.Module):
    """A fixed 'speaker encoder': the normalised magnitude spectrum in 32 bands."""

    def forward(self, wav):
        spec = torch.fft.rfft(wav, n=2048).abs()[:, :256]
        return {"emb": spec.reshape(len(wav), 32, 8).sum(-1)}


def test_speaker_task_scores_trials_by_cosine_and_reports_eer(tmp_path):
    root = make_speaker_dir(tmp_path / "valid")
    task = get_task("speaker_embedding")
    ds = task.build_dataset(root, {"segment": 0}, False, 1)
    records = task.evaluate(PitchEmbedder(), ds, range(len(ds)), "cpu", ["eer", "min_dcf"])
    figures = task.summarize(records, ["eer", "min_dcf"], ds)
    assert figures["eer"] == pytest.approx(0.0)  # pitch separates these speakers perfectly
    # The same records split as two DDP ranks would compute them give the same figures.
    halves = task.evaluate(PitchEmbedder(), ds, range(0, len(ds), 2), "cpu", ["eer"]) + \
        task.evaluate(PitchEmbedder(), ds, range(1, len(ds), 2), "cpu", ["eer"])
    assert task.summarize(halves, ["eer"], ds)["eer"] == figures["eer"]

    class Random(nn.Module):
        def forward(self, wav):
            return torch.randn(len(wav), 8, generator=torch.Generator().manual_seed(int(wav.sum() * 1e3) % 1000))
    rand = task.summarize(task.evaluate(Random(), ds, range(len(ds)), "cpu", ["eer"]), ["eer"], ds)["eer"]
    assert rand > 0.1
    item = task.build_dataset(root, {"segment": 4000}, True, 1)[0]
    assert item["input"].shape == item["input_view2"].shape == (4000,)
    assert not torch.equal(item["input"], item["input_view2"])  # two independent crops of one utterance


def test_voxceleb_trial_layout_gives_the_same_eer(tmp_path):
    root = make_speaker_dir(tmp_path / "valid")
    task = get_task("speaker_embedding")
    ds = task.build_dataset(root, {"segment": 0}, False, 1)

    class Mixed(nn.Module):  # pitch plus noise: an EER strictly between 0 and 0.5
        def forward(self, wav):
            e = PitchEmbedder()(wav)["emb"]
            return e + 3 * e.norm() * torch.randn(e.shape, generator=torch.Generator().manual_seed(len(wav[0])))
    records = task.evaluate(Mixed(), ds, range(len(ds)), "cpu", ["eer"])
    kaldi = task.summarize(records, ["eer", "min_dcf"], ds)
    lines = [line.split() for line in (root / "trials").read_text().splitlines()]
    (root / "trials").write_text("".join(f"{int(lab == 'target')} {a} {b}\n" for a, b, lab in lines))
    assert task.summarize(records, ["eer", "min_dcf"], ds) == kaldi


def test_trials_file_errors_name_the_line(tmp_path):
    root = make_speaker_dir(tmp_path / "v", speakers=2, per_spk=1)
    (root / "trials").write_text("spk0-u0 spk1-u0 nontarget\nspk0-u0 spk1-u0 maybe\n")
    task = get_task("speaker_embedding")
    with pytest.raises(KdError, match=r"trials:2: expected"):   # the data dir's checker reads the trials
        task.build_dataset(root, {"segment": 0}, False, 1)
    (root / "trials").write_text("spk0-u0 spk1-u0 nontarget\n")
    ds = task.build_dataset(root, {"segment": 0}, False, 1)
    (root / "trials").write_text("spk0-u0 spk1-u0 nontarget\nspk1-u0 spk0-u0 nontarget\n")   # changed since
    with pytest.raises(KdError, match=r"trials:2: trial 'spk1-u0 spk0-u0 nontarget' swaps .*trials:1"):
        task.summarize(task.evaluate(PitchEmbedder(), ds, range(len(ds)), "cpu", ["eer"]), ["eer"], ds)


def test_contrastive_distillation_of_a_speaker_encoder_selected_by_eer(tmp_path):
    train_dir = make_speaker_dir(tmp_path / "train", per_spk=4, trials=False)
    valid_dir = make_speaker_dir(tmp_path / "valid", seed=1)
    teacher_conf = {"num_classes": 16, "width": 0.125, "dropout": 0.0}
    torch.manual_seed(0)
    atomic_save({"model_name": "mobilenetv2", "model_conf": teacher_conf,
                 "model": build_model("mobilenetv2", teacher_conf).state_dict()}, tmp_path / "teacher.pth")
    conf = tmp_path / "spk.yaml"
    conf.write_text(f"""\
task: speaker_embedding
data: {{segment: 8000}}
batch_size: 8
model: {{name: mobilenetv2, conf: {{num_classes: 8, width: 0.125, dropout: 0.0}}}}
teachers: {{big: {{members: [{tmp_path / 'teacher.pth'}], input: input_view2}}}}
loss: [{{name: contrastive, teacher: big, proj: [8, 16]}}]
optim: {{name: adam, lr: 1.0e-3}}
trainer: {{max_epochs: 2, tensorboard: false, num_threads: 1, best: {{key: valid.eer, mode: min}}}}
""")
    train.main(["--config", str(conf), "--train_data", str(train_dir), "--valid_data", str(valid_dir),
                "--out_dir", str(tmp_path / "exp")])
    history = json.loads((tmp_path / "exp/history.json").read_text())
    assert all(0.0 <= h["eval"]["eer"] <= 1.0 for h in history)
    assert [h["selected"]["key"] for h in history] == ["valid.eer", "valid.eer"]
    state = torch.load(tmp_path / "exp/checkpoints/last.pth", weights_only=False)
    assert "big_contrastive" not in state["losses"] and "contrastive.log_scale" in state["losses"]
    assert state["losses"]["contrastive.log_scale"].item() != pytest.approx(np.log(1 / 0.07))  # it learned


def test_personalized_enhancement_items_carry_the_enrolment(tmp_path):
    from enh_fixtures import make_mix_dir
    root = make_mix_dir(tmp_path / "mix", n=4)
    utts = [f"utt{i:03d}" for i in range(4)]
    write_kv(root / "utt2spk", {u: f"s{i % 2}" for i, u in enumerate(utts)})
    np.savez(tmp_path / "emb.npz", keys=np.array(["s0", "s1"]), emb=np.array([[1.0, 0.0], [0.0, 2.0]]))
    write_kv(root / "utt2enroll", {u: str(root / "wav" / f"{u}_clean.wav") for u in utts})
    task = get_task("personalized_enhancement")
    ds = task.build_dataset(root, {"segment": 2048, "enroll_emb": str(tmp_path / "emb.npz"),
                                   "enroll_segment": 4000}, True, 1)
    item = ds[1]
    assert item["enroll_emb"].tolist() == [0.0, 2.0] and item["enroll"].shape == (4000,)

    class Gain(nn.Module):  # a "personalized enhancer": scales the mixture by the embedding's norm
        def forward(self, mix, enroll_emb):
            return {"wav": mix * enroll_emb.norm(dim=-1, keepdim=True) * 0.0}
    records = task.evaluate(Gain(), task.build_dataset(root, {"segment": 0, "enroll_emb": str(tmp_path / "emb.npz")},
                                                        False, 1), range(2), "cpu", ["si_sdr"])
    assert len(records) == 2
    with pytest.raises(KdError, match="needs data.enroll_emb or data.enroll_segment"):
        task.build_dataset(root, {"segment": 2048}, True, 1)
    (root / "utt2enroll").unlink()
    with pytest.raises(KdError, match="utt2enroll"):
        task.build_dataset(root, {"enroll_segment": 4000}, True, 1)


def test_classification_figures_from_predictions(tmp_path):
    task = get_task("classification")

    class Fake:
        classes = ["a", "b", "c"]
    records = [{"pred": p, "target": t} for p, t in [(0, 0), (1, 1), (1, 2), (2, 2)]]
    figures = task.summarize(records, ["accuracy", "macro_accuracy", "macro_f1"], Fake())
    assert figures["accuracy"] == pytest.approx(0.75)
    assert figures["macro_accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert figures["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    with pytest.raises(KdError, match="cannot evaluate"):
        task.check_metrics(["eer"])
