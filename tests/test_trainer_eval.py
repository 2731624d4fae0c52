"""trainer.eval_every: validation PESQ / STOI of whole utterances recorded in history.json every N epochs."""

import json
import math

import numpy as np
import pytest
import torch

from enh_fixtures import make_mix_dir
from kdspeech.bin import train
from kdspeech.data.audio import load_audio
from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.metrics.enhancement import stoi
from kdspeech.train.checkpoint import load_model

CONF = """\
task: enhancement
data: {segment: 2048, sr: 16000}
batch_size: 4
model:
  name: waveunet
  conf: {num_layers: 3, base_channels: 4, growth: 4, num_decimations: 3}
loss: [{name: mse_target, weight: 1.0}]
optim: {name: adam, lr: 1e-3}
trainer: {max_epochs: 3, tensorboard: false, num_threads: 1, eval_every: 2, eval_metrics: [stoi, si_sdr]}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    # 1.2 s utterances: longer than the 2048-sample training crops, so "whole utterance" matters.
    return make_mix_dir(root / "train", n=4, dur=1.2), make_mix_dir(root / "valid", n=2, dur=1.2, seed=1)


def run(conf_text, data, out_dir, *overrides):
    conf = out_dir.parent / f"{out_dir.name}.yaml"
    conf.write_text(conf_text)
    return train.main(["--config", str(conf), "--train_data", str(data[0]), "--valid_data", str(data[1]),
                       "--out_dir", str(out_dir), "--seed", "1", *overrides])


def test_eval_every_records_metrics_of_whole_validation_utterances(tmp_path, data):
    out = tmp_path / "exp"
    run(CONF, data, out)
    history = json.loads((out / "history.json").read_text())
    # Epoch 2 (every 2) and the last epoch (3) are evaluated, epoch 1 is not.
    assert ["eval" in h for h in history] == [False, True, True]
    assert set(history[1]["eval"]) == {"stoi", "si_sdr"}
    assert (out / "valid_stoi.png").exists()

    # The recorded value is the mean over whole utterances of the model as it was after the last
    # epoch (epoch 3's checkpoint is last.pth).
    state = torch.load(out / "checkpoints" / "last.pth", map_location="cpu", weights_only=False)
    model = load_model(out / "best.pth")
    model.load_state_dict(state["model"])
    model.eval()
    valid = DataDir(data[1])
    clean = valid.read("spk1.scp")
    values = []
    for utt in valid.utts:
        noisy, _ = load_audio(valid.wav_scp[utt], sr=16000)
        ref, _ = load_audio(clean[utt], sr=16000)
        with torch.no_grad():
            est = model(torch.from_numpy(noisy)[None])[0].numpy()
        assert len(est) == len(ref) == 19200
        values.append(stoi(ref, est, 16000))
    assert math.isclose(history[2]["eval"]["stoi"], float(np.mean(values)), rel_tol=1e-5)


def test_eval_every_is_off_by_default_and_bad_metric_is_named(tmp_path, data):
    out = tmp_path / "plain"
    run(CONF.replace(", eval_every: 2, eval_metrics: [stoi, si_sdr]", ""), data, out, "trainer.max_epochs=1")
    assert "eval" not in json.loads((out / "history.json").read_text())[0]
    with pytest.raises(KdError, match="trainer.eval_metrics.*pesq_xx"):
        run(CONF, data, tmp_path / "bad", "trainer.eval_metrics=[pesq_xx]")
