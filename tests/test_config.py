import pytest

from kdspeech.config import load_config, parse_overrides
from kdspeech.errors import KdError

DEFAULTS = {"optim": {"name": "adam", "lr": 0.1}, "trainer": {"max_epochs": 3}, "model": {"conf": {}}}


def test_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 0.01}\nmodel: {conf: {width: 4}}\n")
    conf = load_config(path, ["optim.lr=1e-4", "trainer.max_epochs=7", "model.conf.depth=[1,2]"],
                       DEFAULTS, free=("model.conf",))
    assert conf["optim"] == {"name": "adam", "lr": 1e-4}
    assert conf["trainer"]["max_epochs"] == 7
    assert conf["model"]["conf"] == {"width": 4, "depth": [1, 2]}


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lrr: 0.01}\n")
    with pytest.raises(KdError, match=r"c\.yaml: unknown config key 'optim.lrr'"):
        load_config(path, [], DEFAULTS)
    with pytest.raises(KdError, match="unknown config key 'trainer.epochs'"):
        load_config(None, ["trainer.epochs=3"], DEFAULTS)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(KdError, match="key.path=value"):
        parse_overrides(["lr"])
    with pytest.raises(KdError, match="not found"):
        load_config(tmp_path / "absent.yaml", [], DEFAULTS)


def test_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim: {lr: 2e-4}\ntrainer: {max_epochs: 3}\n")
    conf = load_config(path, [], DEFAULTS)
    assert conf["optim"]["lr"] == 2e-4 and conf["trainer"]["max_epochs"] == 3
    assert parse_overrides(["a=1e3", "b=10", "c=x1e3"]) == {"a": 1000.0, "b": 10, "c": "x1e3"}
