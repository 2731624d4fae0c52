"""The trainer through its entry point: files it writes, exact resume, checkpoint fallback, DDP."""

import json
import logging
import os
import re
import subprocess
import sys

import pytest
import torch

from enh_fixtures import make_mix_dir
from kdspeech.bin import train
from kdspeech.errors import KdError
from kdspeech.train.checkpoint import load_model, load_training_state

CONF = """\
task: enhancement
data: {segment: 2048, sr: 16000}
batch_size: 4
model:
  name: waveunet
  conf: {num_layers: 3, base_channels: 4, growth: 4, num_decimations: 3}
loss: [{name: mse_target, weight: 1.0}]
optim: {name: adam, lr: 1e-3}
scheduler: {name: plateau, patience: 1}
trainer: {max_epochs: 3, tensorboard: false, num_threads: 1}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    return make_mix_dir(root / "train", n=8), make_mix_dir(root / "valid", n=4, seed=1)


def run_train(conf_path, data, out_dir, *overrides):
    train_dir, valid_dir = data
    args = ["--config", str(conf_path), "--train_data", str(train_dir), "--valid_data", str(valid_dir),
            "--out_dir", str(out_dir), "--seed", "3", *overrides]
    return train.main(args)


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


def test_training_writes_exp_dir_and_resumes_exactly(tmp_path, data, caplog):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    run_train(conf, data, tmp_path / "full")
    full = tmp_path / "full"
    for name in ("config.yaml", "env.json", "best.pth", "history.json", "checkpoints/last.pth",
                 "checkpoints/prev.pth"):
        assert (full / name).exists(), name
    history = json.loads((full / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert json.loads((full / "env.json").read_text())["seed"] == 3

    # Interrupted after epoch 2, then continued: identical final weights and history.
    run_train(conf, data, tmp_path / "split", "trainer.max_epochs=2")
    caplog.set_level(logging.INFO)
    caplog.clear()
    run_train(conf, data, tmp_path / "split")
    assert "resumed after epoch 2" in caplog.text
    a, b = weights(full / "checkpoints/last.pth"), weights(tmp_path / "split/checkpoints/last.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    split_history = json.loads((tmp_path / "split/history.json").read_text())
    assert [h["valid_loss"] for h in split_history] == [h["valid_loss"] for h in history]

    # A finished run re-run does nothing more.
    run_train(conf, data, tmp_path / "split")
    assert len(json.loads((tmp_path / "split/history.json").read_text())) == 3
    model = load_model(full)
    assert not model.training


def test_corrupted_last_checkpoint_falls_back_to_previous(tmp_path, data):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    run_train(conf, data, tmp_path / "x", "trainer.max_epochs=2")
    ckpt = tmp_path / "x/checkpoints"
    (ckpt / "last.pth").write_bytes(b"garbage, as after a crash mid-write")
    state = load_training_state(ckpt)
    assert state["epoch"] == 1
    run_train(conf, data, tmp_path / "x")
    assert load_training_state(ckpt)["epoch"] == 3


def test_early_stopping(tmp_path, data):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    # lr 0: the validation loss never improves after epoch 1, so patience 1 stops after epoch 2.
    run_train(conf, data, tmp_path / "es", "optim.lr=0.0", "trainer.patience=1", "trainer.max_epochs=5")
    history = json.loads((tmp_path / "es/history.json").read_text())
    assert len(history) == 2


def test_distilled_training_uses_teachers(tmp_path, data):
    from kdspeech.data.datadir import DataDir
    from kdspeech.tasks.enhancement import EnhancementDataset

    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    run_train(conf, data, tmp_path / "t1", "trainer.max_epochs=1")
    run_train(conf, data, tmp_path / "t2", "trainer.max_epochs=1", "optim.lr=1e-2")
    kd = tmp_path / "kd.yaml"
    kd.write_text(CONF + "teachers:\n  snr: {members: [], route_by: snr, bounds: [2.5]}\n")
    members = f"teachers.snr.members=[{tmp_path / 't1'},{tmp_path / 't2'}]"
    # lr 0: the student keeps its initial weights, so the validation loss (the teacher term alone)
    # can be computed by hand from the initial student and the teacher each mixture's SNR picks.
    run_train(kd, data, tmp_path / "s0", "trainer.max_epochs=1", "optim.lr=0.0", members,
              "loss=[{name: mse_teacher, weight: 1.0, teacher: snr}]")
    student = load_model(tmp_path / "s0")
    teachers = [load_model(tmp_path / "t1"), load_model(tmp_path / "t2")]
    valid = EnhancementDataset(data[1], segment=2048, train=False, seed=3)
    hand = []
    with torch.no_grad():
        for i in range(len(valid)):
            item = valid[i]
            teacher = teachers[0] if float(item["snr"]) < 2.5 else teachers[1]
            x = item["input"][None]
            hand.append(0.5 * torch.mean((student(x) - teacher(x)) ** 2).item())
    assert DataDir(data[1]).read("utt2snr")  # both sides of the bound are present in the fixture
    history = json.loads((tmp_path / "s0/history.json").read_text())
    assert history[0]["valid_loss"] == pytest.approx(sum(hand) / len(hand), rel=1e-4)

    # With a learning rate, distilled weights differ from a teacher-free run with the same seed.
    run_train(kd, data, tmp_path / "s2", "trainer.max_epochs=1", members,
              "loss=[{name: mse_teacher, weight: 0.5, teacher: snr}, {name: mse_target, weight: 0.5}]")
    run_train(conf, data, tmp_path / "s1", "trainer.max_epochs=1")
    a, b = weights(tmp_path / "s2/best.pth"), weights(tmp_path / "s1/best.pth")
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_config_errors_name_the_problem(tmp_path, data):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    with pytest.raises(KdError, match="unknown config key 'trainer.max_epoch'"):
        run_train(conf, data, tmp_path / "e", "trainer.max_epoch=2")
    with pytest.raises(KdError, match="teacher set 'snr'"):
        run_train(conf, data, tmp_path / "e",
                  "loss=[{name: mse_teacher, teacher: snr}]")
    with pytest.raises(KdError, match="model file not found"):
        run_train(conf, data, tmp_path / "e", f"teachers={{t: {{members: [{tmp_path / 'none'}]}}}}",
                  "loss=[{name: mse_teacher, teacher: t}]")


def _free_port():
    """A TCP port nobody listens on now (a fixed port can be held by another run on the machine)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun(conf, data, out_dir, port, *overrides):
    train_dir, valid_dir = data
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
           "-m", "kdspeech.bin.train", "--config", str(conf), "--train_data", str(train_dir),
           "--valid_data", str(valid_dir), "--out_dir", str(out_dir), "--seed", "3", "trainer.device=cpu",
           *overrides]
    return cmd, env


PROBE = """
import gc, sys, torch
import kdspeech.train.distributed as distributed
leave = distributed.cleanup
def probe(info):
    gc.collect()
    alive = sum(isinstance(o, torch.nn.parallel.DistributedDataParallel) for o in gc.get_objects())
    print(f"rank {info.rank}: {alive} DDP wrappers at cleanup", file=sys.stderr)
    leave(info)
distributed.cleanup = probe
from kdspeech.bin import train
sys.exit(train.main(sys.argv[1:]))
"""


def test_ddp_wrapper_is_freed_before_the_process_group(tmp_path, data):
    """A DDP wrapper freed after destroy_process_group takes the gloo group down under the GIL and can
    deadlock with gloo's worker thread (a hang after the last epoch, about one run in 20 under load):
    the wrapper must be gone when distributed.cleanup runs."""
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    (tmp_path / "probe.py").write_text(PROBE)
    cmd, env = _torchrun(conf, data, tmp_path / "ddp", _free_port(), "trainer.max_epochs=1")
    cmd[cmd.index("-m", 3):cmd.index("kdspeech.bin.train") + 1] = [str(tmp_path / "probe.py")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(re.findall(r"rank \d: \d+ DDP wrappers at cleanup", proc.stderr)) == [
        "rank 0: 0 DDP wrappers at cleanup", "rank 1: 0 DDP wrappers at cleanup"]


def test_ddp_two_ranks_equal_one_rank_and_resume_after_a_kill(tmp_path, data):
    """2 processes with batch 2 = 1 process with batch 4 (no BatchNorm: per-rank statistics are the
    one legitimate difference); a DDP run killed mid-way and restarted ends where an uninterrupted
    one does."""
    import time

    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF.replace("batch_size: 4", "batch_size: 2").replace(
        "num_decimations: 3}", "num_decimations: 3, norm: none}"))
    cmd, env = _torchrun(conf, data, tmp_path / "ddp", _free_port(), "trainer.max_epochs=3")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "ddp/env.json").read_text())["world_size"] == 2
    ddp_history = json.loads((tmp_path / "ddp/history.json").read_text())
    assert len(ddp_history) == 3

    run_train(conf, data, tmp_path / "one", "batch_size=4", "trainer.max_epochs=3")
    a, b = weights(tmp_path / "ddp/checkpoints/last.pth"), weights(tmp_path / "one/checkpoints/last.pth")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    one_history = json.loads((tmp_path / "one/history.json").read_text())
    assert [h["valid_loss"] for h in ddp_history] == pytest.approx([h["valid_loss"] for h in one_history], rel=1e-4)

    cmd, env = _torchrun(conf, data, tmp_path / "killed", _free_port(), "trainer.max_epochs=3")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 240
    while not (tmp_path / "killed/checkpoints/last.pth").exists() and proc.poll() is None:
        assert time.time() < deadline, "no checkpoint within 240 s"
        time.sleep(0.2)
    # torchrun starts its workers in sessions of their own: kill every process of this run.
    target = str(tmp_path / "killed")
    while subprocess.run(["pkill", "-KILL", "-f", target]).returncode == 0:
        time.sleep(0.05)
    proc.wait()
    done = load_training_state(tmp_path / "killed/checkpoints")["epoch"]
    cmd, env = _torchrun(conf, data, tmp_path / "killed", _free_port(), "trainer.max_epochs=3")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if done < 3:
        assert f"resumed after epoch {done}" in proc.stderr
    c = weights(tmp_path / "killed/checkpoints/last.pth")
    assert all(torch.allclose(a[k], c[k], atol=1e-6) for k in a)


def test_changed_config_does_not_resume_old_checkpoints(tmp_path, data):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    run_train(conf, data, tmp_path / "c", "trainer.max_epochs=2")
    run_train(conf, data, tmp_path / "c", "trainer.max_epochs=2", "optim.lr=5e-4")
    history = json.loads((tmp_path / "c/history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]  # trained again from epoch 1, not skipped
    first = list(tmp_path.glob("c/checkpoints.stale.*"))
    assert len(first) == 1
    run_train(conf, data, tmp_path / "c", "trainer.max_epochs=2", "optim.lr=2e-4")
    stale = list(tmp_path.glob("c/checkpoints.stale.*"))   # at most the newest stale set is kept
    assert len(stale) == 1 and (stale[0] / "last.pth").is_file()


def test_deterministic_mode_is_on_by_default_and_workers_are_seeded():
    import random

    import numpy as np
    import torch

    from kdspeech.train.determinism import set_deterministic, worker_seed
    from kdspeech.train.trainer import TRAINER_DEFAULTS

    assert TRAINER_DEFAULTS["deterministic"] is True
    try:
        set_deterministic(True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert not torch.backends.cudnn.benchmark
    finally:
        set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(5)
    worker_seed(0)
    first = (random.random(), np.random.random())
    torch.manual_seed(5)
    worker_seed(0)
    assert (random.random(), np.random.random()) == first


def test_learned_term_repeated_in_valid_loss_is_one_module_that_trains(tmp_path, data, caplog):
    import math
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    run_train(conf, data, tmp_path / "t", "trainer.max_epochs=1")
    kd = tmp_path / "kd.yaml"
    kd.write_text(CONF + f"teachers: {{tc: {{members: [{tmp_path / 't'}]}}}}\n")
    term = "{name: contrastive, teacher: tc, temperature: 0.5}"
    caplog.set_level(logging.INFO)
    run_train(kd, data, tmp_path / "s", "trainer.max_epochs=2", f"loss=[{term}]",
              f"valid_loss=[{{name: contrastive, weight: 2.0, teacher: tc, temperature: 0.5}}]")
    assert "learned loss-term parameters contrastive.log_scale" in caplog.text
    assert "valid_loss term 'contrastive' is loss term 'contrastive'" in caplog.text
    state = load_training_state(tmp_path / "s/checkpoints")
    assert list(state["losses"]) == ["contrastive.log_scale"]
    # The training term's temperature got gradients and moved; it is in the optimizer's state.
    assert state["losses"]["contrastive.log_scale"].item() != pytest.approx(math.log(2.0), abs=1e-6)
    assert len(state["optimizer"]["param_groups"]) == 2
    assert state["optimizer"]["state"]  # Adam moments exist for every parameter that got a gradient
    # A learned validation term that repeats no training term would never train: an error.
    with pytest.raises(KdError, match="valid_loss term 'contrastive' has learned parameters .log_scale."):
        run_train(kd, data, tmp_path / "e", f"loss=[{term}]",
                  "valid_loss=[{name: contrastive, teacher: tc, temperature: 0.1}]")


def test_print_config_prints_the_resolved_config_and_needs_no_data(tmp_path, capsys):
    import yaml
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    assert train.main(["--config", str(conf), "--print_config", "optim.lr=5e-4"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["optim"]["lr"] == 5e-4 and printed["trainer"]["max_epochs"] == 3    # file and override
    assert printed["model"]["conf"]["num_layers"] == 3 and "enc_kernel" in printed["model"]["conf"]  # defaults
    assert printed["loss"] == [{"name": "mse_target", "weight": 1.0, "teacher": None, "student_key": None,
                                "teacher_key": None, "target_key": "target"}]
    assert printed["data"] == {"segment": 2048, "sr": 16000, "enroll_emb": None, "enroll_segment": 0,
                               "on_the_fly": None}
    assert printed["trainer"]["deterministic"] is True and not list(tmp_path.glob("*/config.yaml"))
    with pytest.raises(SystemExit):   # without --print_config the data dirs are required
        train.main(["--config", str(conf)])


def test_data_contract_names_missing_keys_before_the_first_batch(tmp_path, data):
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF)
    # A loss term reading a target the dataset does not have.
    with pytest.raises(KdError, match=r"training data does not hold .*loss term 'mse_target' needs 'clean'"):
        run_train(conf, data, tmp_path / "a", "loss=[{name: mse_target, target_key: clean}]")
    # A personalized model (DCCRN with emb_dim) on mixtures without enrolment embeddings.
    pdccrn = tmp_path / "pdccrn.yaml"
    pdccrn.write_text(CONF.replace("name: waveunet", "name: dccrn").replace(
        "{num_layers: 3, base_channels: 4, growth: 4, num_decimations: 3}",
        "{emb_dim: 8, channels: [4, 8], lstm_units: 8, lstm_layers: 1}"))
    with pytest.raises(KdError, match=r"model 'dccrn' \(its forward\) needs 'enroll_emb'") as err:
        run_train(pdccrn, data, tmp_path / "b", "loss=[{name: si_snr}]")
    assert str(data[0]) in str(err.value) and "input, key, snr, target" in str(err.value)
    # A teacher set that reads another view of the input, in the validation loss only.
    run_train(conf, data, tmp_path / "t", "trainer.max_epochs=1")
    with pytest.raises(KdError, match=r"validation data .*teacher set 'tc' needs 'input_16k'") as err:
        run_train(conf, data, tmp_path / "c", f"teachers={{tc: {{members: [{tmp_path / 't'}], input: input_16k}}}}",
                  "valid_loss=[{name: mse_teacher, teacher: tc}]")
    assert str(data[1]) in str(err.value)
    assert not (tmp_path / "c" / "checkpoints").exists()
