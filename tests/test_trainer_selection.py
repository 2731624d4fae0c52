"""Model selection by a validation figure, n best + averaging, extending a run (max_epochs, cosine)."""

import json
import logging
import math

import pytest
import torch

from enh_fixtures import make_mix_dir
from kdspeech.bin import train
from kdspeech.train.average import average_model_files

CONF = """\
task: enhancement
data: {segment: 2048, sr: 16000}
batch_size: 4
model:
  name: waveunet
  conf: {num_layers: 3, base_channels: 4, growth: 4, num_decimations: 3}
loss: [{name: mse_target, weight: 1.0}]
optim: {name: adam, lr: 3e-3}
trainer: {max_epochs: 4, tensorboard: false, num_threads: 1}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    return make_mix_dir(root / "train", n=8), make_mix_dir(root / "valid", n=3, seed=1)


def run(conf_text, data, out_dir, *overrides):
    conf = out_dir.parent / f"{out_dir.name}.yaml"
    conf.write_text(conf_text)
    train.main(["--config", str(conf), "--train_data", str(data[0]), "--valid_data", str(data[1]),
                "--out_dir", str(out_dir), "--seed", "2", *overrides])
    return json.loads((out_dir / "history.json").read_text())


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_best_model_is_chosen_by_the_named_validation_figure(tmp_path, data):
    history = run(CONF, data, tmp_path / "sel", "trainer.best={key: valid.si_sdr, mode: max}")
    values = [h["eval"]["si_sdr"] for h in history]  # evaluated every epoch because best needs it
    assert all(h["selected"] == {"key": "valid.si_sdr", "value": v} for h, v in zip(history, values))
    running = [max(values[:i + 1]) for i in range(len(values))]
    assert [h["best"] for h in history] == [i == 0 or values[i] > running[i - 1] for i in range(len(values))]
    best_epoch = values.index(max(values)) + 1
    # best.pth holds the weights of the epoch with the highest SI-SDR, not of the lowest loss.
    run(CONF, data, tmp_path / "upto", f"trainer.max_epochs={best_epoch}")
    a, b = weights(tmp_path / "sel/best.pth"), weights(tmp_path / "upto/checkpoints/last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_n_best_are_kept_and_averaged(tmp_path, data):
    history = run(CONF, data, tmp_path / "avg", "trainer.keep_best=2", "trainer.average_best=true")
    losses = sorted((h["valid_loss"], h["epoch"]) for h in history)[:2]
    kept = json.loads((tmp_path / "avg/nbest/nbest.json").read_text())
    assert [e["epoch"] for e in kept] == [epoch for _, epoch in losses]
    assert sorted(p.name for p in (tmp_path / "avg/nbest").glob("*.pth")) == sorted(f"epoch{e}.pth" for _, e in losses)
    files = [tmp_path / f"avg/nbest/epoch{e}.pth" for _, e in losses]
    avg, one, two = weights(tmp_path / "avg/best.pth"), weights(files[0]), weights(files[1])
    key = "encoder.0.0.weight"
    assert torch.allclose(avg[key], (one[key] + two[key]) / 2, atol=1e-7)
    assert torch.equal(weights(tmp_path / "avg/best_single.pth")[key], one[key])
    assert average_model_files(files)["averaged_from"] == [str(f) for f in files]
    # The same average after the fact, as a verb; the output loads like any model file.
    from kdspeech.bin import average_models
    from kdspeech.train.checkpoint import load_model
    average_models.main(["--exp_dir", str(tmp_path / "avg"), "--n", "2"])
    again = weights(tmp_path / "avg/ave_2best.pth")
    assert all(torch.equal(again[k], avg[k]) for k in avg)
    assert not load_model(tmp_path / "avg/ave_2best.pth").training


def test_raising_max_epochs_continues_and_stretches_the_cosine_schedule(tmp_path, data, caplog):
    conf = CONF + "scheduler: {name: cosine}\n"
    first = run(conf, data, tmp_path / "cos", "trainer.max_epochs=2")
    assert [h["epoch"] for h in first] == [1, 2]
    caplog.set_level(logging.INFO)
    # A comment in the config and a longer run: the checkpoints are resumed, not discarded.
    history = run("# longer run\n" + conf, data, tmp_path / "cos", "trainer.max_epochs=4")
    assert "resumed after epoch 2" in caplog.text
    assert not list(tmp_path.glob("cos/checkpoints.stale.*"))
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    lr0 = 3e-3
    # the rate epoch e trained with is the closed form at e - 1 of a cosine over 4 epochs (the first
    # run's 2-epoch cosine had reached 0 at epoch 2)
    assert history[1]["lr"] == pytest.approx(lr0 / 2)  # epoch 2 of the first run (T = 2)
    for h in history[2:]:
        assert h["lr"] == pytest.approx(lr0 * (1 + math.cos(math.pi * (h["epoch"] - 1) / 4)) / 2, rel=1e-6)
