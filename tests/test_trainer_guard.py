"""The non-finite guard: a NaN/inf loss or gradient skips the update, is counted with its term, and
trainer.nonfinite_limit skips in a row stop the run with a KdError naming the update, term and batch."""

import json
import logging

import pytest
import torch

from kdspeech.distill.losses import LOSSES, LossTerm
from kdspeech.errors import KdError
from kdspeech.train.guard import NonFiniteGuard, grads_finite, nonfinite_terms
from test_trainer import CONF, run_train, weights, data  # noqa: F401 (fixture: 8 + 4 mixtures)


class NanOn(LossTerm):
    """NaN on a batch holding an utterance of ``utts`` (every batch: ``all``), else 0 (with a graph)."""

    def __init__(self, utts=(), **keys):
        super().__init__(**keys)
        self.utts = set(utts)

    def forward(self, out, batch, teacher_outs):
        zero = 0.0 * self.student(out).mean()
        hit = "all" in self.utts or any(k.split("@")[0] in self.utts for k in batch["key"])
        return zero + float("nan") if hit else zero


class InfGradient(LossTerm):
    """A finite value (0) whose gradient is NaN: d sqrt(|x|) / dx at 0."""

    def forward(self, out, batch, teacher_outs):
        s = self.student(out)
        return (s - s.detach()).abs().sqrt().mean()


for name, cls in (("test_nan_on", NanOn), ("test_inf_gradient", InfGradient)):
    if name not in LOSSES.names():
        LOSSES.register(name)(cls)


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_text(CONF.replace("max_epochs: 3", "max_epochs: 2"))
    return path


def test_a_nan_term_skips_its_updates_and_is_counted_with_the_term(tmp_path, conf, data, caplog):
    caplog.set_level(logging.WARNING)
    loss = "loss=[{name: mse_target}, {name: test_nan_on, utts: [utt003]}]"
    run_train(conf, data, tmp_path / "exp", loss, "valid_loss=[{name: mse_target}]", "trainer.precision=bf16")
    history = json.loads((tmp_path / "exp/history.json").read_text())
    # utt003 is in one batch of 4 per epoch: that update is skipped, the other one taken.
    assert [h["skipped_updates"] for h in history] == [{"test_nan_on": 1}, {"test_nan_on": 1}]
    assert all(torch.isfinite(torch.tensor([h["train_loss"], h["valid_loss"]])).all() for h in history)
    assert all(torch.isfinite(v).all() for v in weights(tmp_path / "exp/best.pth").values())
    assert "term test_nan_on (batch " in caplog.text and "utt003@" in caplog.text
    assert "update skipped (1 in a row)" in caplog.text


def test_skips_in_a_row_stop_the_run_naming_update_term_and_batch(tmp_path, conf, data):
    loss = "loss=[{name: mse_target}, {name: test_nan_on, utts: [all]}]"
    with pytest.raises(KdError) as err:
        run_train(conf, data, tmp_path / "exp", loss, "valid_loss=[{name: mse_target}]", "trainer.nonfinite_limit=5",
                  "batch_size=2")
    text = str(err.value)
    assert "5 updates in a row skipped" in text and "trainer.nonfinite_limit 5" in text
    assert "epoch 2 update 1: term test_nan_on (batch utt" in text   # 4 updates in epoch 1, then the 5th skip
    with pytest.raises(KdError, match=r"trainer\.nonfinite_limit must be an integer >= 1"):
        run_train(conf, data, tmp_path / "e", "trainer.nonfinite_limit=0")


def test_a_non_finite_gradient_of_finite_terms_is_traced_to_its_term(tmp_path, conf, data):
    loss = "loss=[{name: mse_target}, {name: test_inf_gradient, weight: 0.5}]"
    with pytest.raises(KdError, match=r"epoch 1 update 2: term test_inf_gradient \(batch utt\d+@\d+, utt"):
        run_train(conf, data, tmp_path / "exp", loss, "valid_loss=[{name: mse_target}]",
                  "trainer.nonfinite_limit=2")


def test_guard_parts():
    assert nonfinite_terms({"a": torch.tensor(1.0), "b": torch.tensor(float("inf")),
                            "c": torch.tensor(float("nan"))}) == ["b", "c"]
    p = torch.nn.Parameter(torch.ones(3))
    assert grads_finite([p])          # no gradient yet
    p.grad = torch.tensor([1.0, float("nan"), 0.0])
    assert not grads_finite([p])
    guard = NonFiniteGuard(limit=None)   # null: never stops
    for _ in range(20):
        guard.skip("epoch 1 update 1", [])
    assert guard.take_counts() == {"gradient": 20} and guard.take_counts() == {}
