"""Gradient accumulation (trainer.accum_grad): N micro-batches make the update of one batch N times as
large, in one process and under DDP, and a resumed run ends where an uninterrupted one does."""

import json
import subprocess

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.train.accumulation import num_updates, window_of
from test_trainer import _free_port, _torchrun, run_train, weights, data  # noqa: F401 (fixture: 8 + 4 mixtures)

# Wave-U-Net without BatchNorm: no batch statistics, so the batch split is the only difference.
CONF = """\
task: enhancement
data: {segment: 2048, sr: 16000}
batch_size: 2
model:
  name: waveunet
  conf: {num_layers: 3, base_channels: 4, growth: 4, num_decimations: 3, norm: none}
loss: [{name: mse_target, weight: 1.0}]
optim: {name: adam, lr: 1e-3}
trainer: {max_epochs: 2, tensorboard: false, num_threads: 1}
"""


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_text(CONF)
    return path


def close(a, b, atol=1e-5):
    return all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


def test_windows_cover_every_batch_and_end_each_epoch_on_an_update():
    assert [window_of(i, 10, 4) for i in range(10)] == [
        (4, False), (4, False), (4, False), (4, True), (4, False), (4, False), (4, False), (4, True),
        (2, False), (2, True)]
    assert num_updates(10, 4) == 3 and num_updates(8, 4) == 2 and num_updates(3, 1) == 3


def test_accum_4_of_batch_2_equals_batch_8(tmp_path, conf, data):
    run_train(conf, data, tmp_path / "accum", "trainer.accum_grad=4")
    run_train(conf, data, tmp_path / "big", "batch_size=8")
    a, b = weights(tmp_path / "accum/best.pth"), weights(tmp_path / "big/best.pth")
    assert close(a, b)
    run_train(conf, data, tmp_path / "small", "trainer.max_epochs=1")   # 4 updates, not 1: it differs
    assert not close(weights(tmp_path / "small/best.pth"), weights(tmp_path / "accum/checkpoints/prev.pth"))
    ha = json.loads((tmp_path / "accum/history.json").read_text())
    hb = json.loads((tmp_path / "big/history.json").read_text())
    assert [h["train_loss"] for h in ha] == pytest.approx([h["train_loss"] for h in hb], rel=1e-5)


def test_resume_with_a_short_last_update_is_exact(tmp_path, conf, data):
    """4 batches per epoch with accum_grad 3: updates of 3 and 1 micro-batches, checkpoints at epoch ends."""
    run_train(conf, data, tmp_path / "full", "trainer.accum_grad=3", "trainer.max_epochs=3")
    run_train(conf, data, tmp_path / "split", "trainer.accum_grad=3", "trainer.max_epochs=1")
    run_train(conf, data, tmp_path / "split", "trainer.accum_grad=3", "trainer.max_epochs=3")
    a, b = weights(tmp_path / "full/checkpoints/last.pth"), weights(tmp_path / "split/checkpoints/last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("value", [0, -1, 1.5, "two"])
def test_accum_grad_below_one_is_an_error_naming_the_key(tmp_path, conf, value):
    missing = tmp_path / "no_data"   # the error comes before any data is read
    with pytest.raises(KdError, match=r"trainer\.accum_grad must be an integer >= 1"):
        run_train(conf, (missing, missing), tmp_path / "e", f"trainer.accum_grad={value}")


def test_ddp_two_ranks_with_accumulation_equal_one_batch_of_8(tmp_path, conf, data):
    """2 ranks x batch 2 x accum 2 (DDP no_sync on the first micro-batch) = 1 process with batch 8."""
    cmd, env = _torchrun(conf, data, tmp_path / "ddp", _free_port(), "trainer.accum_grad=2")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_train(conf, data, tmp_path / "one", "batch_size=8")
    assert close(weights(tmp_path / "ddp/checkpoints/last.pth"), weights(tmp_path / "one/checkpoints/last.pth"))
