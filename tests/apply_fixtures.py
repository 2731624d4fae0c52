"""Tiny trained systems in a recipe-shaped folder, for the kdspeech command and packed-model tests.

``make_systems(root)`` writes ``root/egs/mine/enh`` with

- ``exp/tiny``: a Wave-U-Net (2 layers, 2 decimations) trained 2 epochs on synthetic mixtures, best.pth
  the average of both epochs, with a stage stamp ``.done`` and a score summary ``score_test/summary.json``
  beside it, as a recipe run leaves them;
- ``exp/conv``: the same without decimation (a purely convolutional network, receptive field 44
  samples), for the long-recording test;
- ``exp/cls``: a link to ``root/egs/mine/cls/exp/cls``, a MobileNetV2 classifier trained on a 1 kHz
  feature dump (``tests/cls_fixtures.py``) through a subprocess run in that recipe folder as a recipe
  stage runs it (its env.json command names the training data, so the class list is found);
- ``exp/spk``: a TinyECAPA speaker encoder trained one epoch with AAM-softmax on pitch "speakers".
"""

import json
import os
import subprocess
import sys

from cls_fixtures import make_cls_setup
from enh_fixtures import make_mix_dir
from kdspeech.bin import train

ENH = """\
task: enhancement
data: {{segment: 2048, sr: 16000}}
batch_size: 4
model:
  name: waveunet
  conf: {{num_layers: 2, base_channels: 4, growth: 4, num_decimations: {decimations}}}
loss: [{{name: mse_target, weight: 1.0}}]
optim: {{name: adam, lr: 1e-3}}
trainer: {{max_epochs: 2, tensorboard: false, num_threads: 1, keep_best: 2, average_best: true}}
"""
CLS = """\
task: classification
data: {feats: dump/feats/1000}
batch_size: 4
model: {name: mobilenetv2, conf: {num_classes: 2, width: 0.125, dropout: 0.0}}
loss: [{name: ce, weight: 1.0}]
optim: {name: adam, lr: 1e-3}
trainer: {max_epochs: 1, tensorboard: false, num_threads: 1}
"""
SPK = """\
task: speaker_embedding
data: {segment: 4000}
batch_size: 4
model: {name: tiny_ecapa, conf: {emb_dim: 16}}
loss: [{name: aam_softmax, num_classes: 4, emb_dim: 16}]
optim: {name: adam, lr: 1e-3}
trainer: {max_epochs: 1, tensorboard: false, num_threads: 1}
"""
STAMP = """\
fingerprint 5f1c0ffee
scheme 3
base 0badcafe
stage 4
name train tiny
date 2026-01-01T00:00:00+0000
command train_system conf/tiny.yaml dump/mix/train dump/mix/valid exp/tiny seed=1
inputs 1234abcd
dep dump/mix/train 1111aaaa
dep dump/mix/valid 2222bbbb
kdspeech_git abc1234
"""
SUMMARY = {"metrics": ["pesq_wb"], "n": 4, "overall": {"n": 4, "pesq_wb": 1.5}}


def train_in_process(recipe, conf_text, name, train_dir, valid_dir):
    conf = recipe / "conf" / f"{name}.yaml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(conf_text)
    train.main(["--config", str(conf), "--train_data", str(train_dir), "--valid_data", str(valid_dir),
                "--out_dir", str(recipe / "exp" / name), "--seed", "1"])
    return recipe / "exp" / name


def make_systems(root):
    from test_tasks import make_speaker_dir

    recipe = root / "egs" / "mine" / "enh"
    train_dir = make_mix_dir(recipe / "data" / "train", n=8)
    valid_dir = make_mix_dir(recipe / "data" / "valid", n=4, seed=1)
    tiny = train_in_process(recipe, ENH.format(decimations=2), "tiny", train_dir, valid_dir)
    (tiny / ".done").write_text(STAMP)
    (tiny / "score_test").mkdir()
    (tiny / "score_test" / "summary.json").write_text(json.dumps(SUMMARY))
    train_in_process(recipe, ENH.format(decimations=0), "conv", train_dir, valid_dir)
    spk_train = make_speaker_dir(recipe / "data" / "spk_train", per_spk=3, trials=False)
    spk_valid = make_speaker_dir(recipe / "data" / "spk_valid", seed=1)
    train_in_process(recipe, SPK, "spk", spk_train, spk_valid)

    cls_recipe = root / "egs" / "mine" / "cls"
    make_cls_setup(cls_recipe, num_utts=8)
    (cls_recipe / "conf").mkdir()
    (cls_recipe / "conf" / "cls.yaml").write_text(CLS)
    env = {k: v for k, v in os.environ.items() if k != "KDSPEECH_STAGE"}
    proc = subprocess.run([sys.executable, "-m", "kdspeech.bin.train", "--config", "conf/cls.yaml",
                           "--train_data", "data/train", "--valid_data", "data/valid", "--out_dir", "exp/cls",
                           "--seed", "1"], cwd=cls_recipe, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (recipe / "exp" / "cls").symlink_to(cls_recipe / "exp" / "cls")
    return recipe
