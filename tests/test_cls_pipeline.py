"""Each low-rate pipeline for one epoch on a few cached clips, through the one trainer (bin/train.py):
fine-tuning (CE), BASD (precomputed teacher logits), CSSD (live 16 kHz teacher on the input_16k view);
the alpha/T distillation loss against a hand computation; inference, scoring and grid selection."""

import json
import math

import numpy as np
import pytest
import torch
import yaml

from cls_fixtures import make_cls_setup
from kdspeech.bin import infer_cls, score_cls, select_grid_cls, train
from kdspeech.distill.losses import build_loss_terms, total_loss
from kdspeech.distill.precomputed import PrecomputedTeacher
from kdspeech.distill.teachers import build_teacher_sets
from kdspeech.errors import KdError
from kdspeech.tasks import build_dataset
from kdspeech.train.checkpoint import load_model

MODEL = {"name": "mobilenetv2", "conf": {"num_classes": 2, "width": 0.125, "dropout": 0.0}}


def _conf(tmp_path, name, **extra):
    conf = {"task": "classification", "batch_size": 4, "model": MODEL,
            "loss": [{"name": "ce", "weight": 1.0}], "optim": {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999]},
            "trainer": {"max_epochs": 1, "num_threads": 1, "tensorboard": False}, **extra}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(conf))
    return path


def _train(tmp_path, name, rate, *overrides):
    out = tmp_path / "exp" / name
    train.main(["--config", str(_conf(tmp_path, name)), "--train_data", str(tmp_path / "data" / "train"),
                "--valid_data", str(tmp_path / "data" / "valid"), "--out_dir", str(out), "--seed", "3",
                f"data.feats={tmp_path}/dump/feats/{rate}", *overrides])
    assert (out / "best.pth").exists()
    return out


def _logits(tmp_path, model, part, rate):
    out = tmp_path / "exp" / f"{model.name}_{part}_{rate}.npz"
    infer_cls.main(["--model", str(model), "--data", str(tmp_path / "data" / part),
                    "--feats", f"{tmp_path}/dump/feats/{rate}", "--out", str(out)])
    return out


def test_kd_loss_alpha_T_matches_hand_computation():
    torch.manual_seed(0)
    s, t = torch.randn(5, 4), torch.randn(5, 4)
    y = torch.tensor([0, 3, 1, 2, 2])
    alpha, T = 0.3, 4.0
    terms = build_loss_terms([{"name": "ce", "weight": alpha},
                              {"name": "kl_logits", "weight": 1 - alpha, "T": T, "teacher": "kd"}])
    loss, _ = total_loss(terms, s, {"target": y}, {"kd": t})
    ps, pt = torch.softmax(s / T, -1).numpy(), torch.softmax(t / T, -1).numpy()
    kl = float(np.mean(np.sum(pt * (np.log(pt) - np.log(ps)), axis=1)))
    logp = torch.log_softmax(s, -1).numpy()
    ce = -float(np.mean(logp[np.arange(5), y.numpy()]))
    assert loss.item() == pytest.approx(alpha * ce + (1 - alpha) * T * T * kl, rel=1e-5)


def test_dataset_items_and_views(tmp_path):
    make_cls_setup(tmp_path)
    ds = build_dataset("classification", tmp_path / "data" / "train",
                       {"feats": f"{tmp_path}/dump/feats/1000", "views": {"input_16k": f"{tmp_path}/dump/feats/16000"}},
                       True, 1)
    item = ds[1]
    assert item["input"].shape == (51, 64) and item["input_16k"].shape == (51, 64)
    assert item["key"] == ds.utts[1] and int(item["target"]) == ["dog", "rain"].index(item["key"].split("-")[0])
    assert not torch.equal(item["input"], item["input_16k"])
    with pytest.raises(KdError, match="no feats.npy"):
        build_dataset("classification", tmp_path / "data" / "train", {"feats": str(tmp_path / "nowhere")}, True, 1)


def test_finetune_basd_cssd_one_epoch_each(tmp_path):
    make_cls_setup(tmp_path)
    init = _train(tmp_path, "init_16k", 16000)
    ft = _train(tmp_path, "ft_1000", 1000, f"model.conf.pretrained={init}/best.pth")
    kd = ["loss=[{name: ce, weight: 0.5}, {name: kl_logits, weight: 0.5, T: 2, teacher: kd}]",
          "valid_loss=[{name: ce, weight: 1.0}]", f"model.conf.pretrained={init}/best.pth"]
    # BASD: the fine-tuned low-rate model as a precomputed teacher
    files = [_logits(tmp_path, ft, p, 1000) for p in ("train", "valid")]
    basd = _train(tmp_path, "basd_1000", 1000, *kd, f"teachers.kd.precomputed=[{files[0]},{files[1]}]")
    # CSSD: the 16 kHz model run live on the 16 kHz view of the same clips
    cssd = _train(tmp_path, "cssd_1000", 1000, *kd, f"teachers.kd.members=[{init}]", "teachers.kd.input=input_16k",
                  "teachers.kd.cache=true", f"data.views={{input_16k: {tmp_path}/dump/feats/16000}}")
    for exp in (ft, basd, cssd):
        hist = json.loads((exp / "history.json").read_text())
        assert len(hist) == 1 and math.isfinite(hist[0]["train_loss"])
    # the students start from the 16 kHz model and moved away from it
    a = torch.load(init / "best.pth", weights_only=False)["model"]["fc_transfer.weight"]
    b = torch.load(cssd / "best.pth", weights_only=False)["model"]["fc_transfer.weight"]
    assert a.shape == b.shape and not torch.equal(a, b)
    # a student's file stands alone: it loads after the model it started from is gone
    assert "pretrained" not in torch.load(ft / "best.pth", weights_only=False)["model_conf"]
    (init / "best.pth").rename(init / "moved.pth")
    assert load_model(ft).fc_transfer.out_features == 2


def test_precomputed_teacher_equals_live_teacher(tmp_path):
    make_cls_setup(tmp_path)
    init = _train(tmp_path, "init_16k", 16000)
    files = [_logits(tmp_path, init, p, 16000) for p in ("train", "valid")]
    ds = build_dataset("classification", tmp_path / "data" / "train",
                       {"feats": f"{tmp_path}/dump/feats/1000", "views": {"input_16k": f"{tmp_path}/dump/feats/16000"}},
                       False, 1)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    sets = build_teacher_sets({"pre": {"precomputed": [str(f) for f in files]},
                               "live": {"members": [str(init)], "input": "input_16k"}}, "cpu")
    assert torch.allclose(sets["pre"](batch)["logits"], sets["live"](batch)["out"], atol=1e-5)
    with pytest.raises(KdError, match="no precomputed output for 'nope'"):
        sets["pre"]({"key": ["nope"], "input": batch["input"][:1]})
    with pytest.raises(KdError, match="mean nothing"):
        build_teacher_sets({"x": {"precomputed": [str(files[0])], "route_by": "snr"}}, "cpu")
    assert isinstance(sets["pre"], PrecomputedTeacher)


def test_score_and_grid_selection(tmp_path):
    make_cls_setup(tmp_path)
    test = tmp_path / "data" / "test"
    keys = sorted(l.split()[0] for l in (test / "utt2label").read_text().splitlines())
    labels = dict(l.split() for l in (test / "utt2label").read_text().splitlines())
    logits = np.array([[1.0, 0.0] if labels[k] == "dog" else [0.0, 1.0] for k in keys])
    logits[0] = logits[0][::-1]  # one mistake
    np.savez(tmp_path / "l.npz", keys=np.array(keys), logits=logits)
    score_cls.main(["--logits", str(tmp_path / "l.npz"), "--data", str(test), "--out_dir", str(tmp_path / "s")])
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["accuracy"] == pytest.approx(0.5) and summary["num_utts"] == 2
    assert (tmp_path / "s" / "scores.tsv").read_text().count("\n") == 3
    for (a, t), v in {(0.3, 2): 0.5, (0.7, 2): 0.8, (0.7, 4): 0.8}.items():
        d = tmp_path / "grid" / f"a{a}_T{t}" / "valid_1000"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({"macro_accuracy": v}))
    select_grid_cls.main(["--runs", str(tmp_path / "grid"), "--score", "valid_1000", "--out", str(tmp_path / "best.yaml")])
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert (best["alpha"], best["T"]) == (0.7, 2.0) and len(best["grid"]) == 3


def test_grid_cls_reads_the_grid_and_writes_the_loss_of_a_point(tmp_path, capsys):
    from kdspeech.bin import grid_cls
    from kdspeech.config import parse_overrides

    grid = tmp_path / "grid.yaml"
    grid.write_text("pipeline: basd\nrate: 2000\nfold: 3\nalpha: [0.1, 0.5]\nT: [1, 2.5]\n")
    assert grid_cls.main(["search", str(grid)]) == 0
    assert capsys.readouterr().out.splitlines() == ["basd 2000 3", "0.1 0.5", "1 2.5"]
    best = tmp_path / "best.yaml"
    best.write_text("alpha: 0.3\nT: 4\nmetric: macro_accuracy\n")
    assert grid_cls.main(["best", str(best)]) == 0
    assert capsys.readouterr().out.split() == ["0.3", "4"]
    assert grid_cls.main(["loss", "0.3", "4"]) == 0
    loss = parse_overrides([capsys.readouterr().out.strip()])["loss"]
    assert loss[0] == {"name": "ce", "weight": 0.3}
    assert loss[1]["name"] == "kl_logits" and loss[1]["T"] == 4 and loss[1]["teacher"] == "kd"
    assert loss[1]["weight"] == pytest.approx(0.7)
    for text, words in (("pipeline: cssd\nrate: 1000\nfold: 1\nalpha: [1.5]\nT: [1]\n", "'alpha' value 1.5"),
                        ("pipeline: cssd\nrate: 1000\nfold: 1\nalpha: [0.5]\nT: [0]\n", "'T' value 0"),
                        ("pipeline: kd\nrate: 1000\nfold: 1\nalpha: [0.5]\nT: [1]\n", "'pipeline' must be"),
                        ("pipeline: cssd\nrate: 1000\nfold: 1\nalpha: [0.5]\nT: [1]\ntemp: 2\n", "unknown key 'temp'")):
        grid.write_text(text)
        with pytest.raises(KdError, match=words) as err:
            grid_cls.read_grid(grid)
        assert str(grid) in str(err.value)
