"""Speaker task option view2: fixed (a deterministic teacher view, so teacher outputs can be cached)
and the teacher cache made on it, looked up by the training items' keys."""

import numpy as np
import pytest
import torch

from kdspeech.bin import cache_teacher
from kdspeech.distill.precomputed import PrecomputedTeacher
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.tasks import get_task
from kdspeech.train.checkpoint import atomic_save
from test_tasks import make_speaker_dir


def test_fixed_view2_is_one_crop_per_utterance_in_every_epoch_and_mode(tmp_path):
    root = make_speaker_dir(tmp_path / "d", trials=False)
    task = get_task("speaker_embedding")
    train = task.build_dataset(root, {"segment": 3000, "view2": "fixed"}, True, 7)
    valid = task.build_dataset(root, {"segment": 3000, "view2": "fixed"}, False, 7)
    firsts, views = [], []
    for epoch in (1, 2, 3):
        train.set_epoch(epoch)
        item = train[2]
        assert item["key"] == train.utts[2]                     # looked up by utterance
        firsts.append(item["input"])
        views.append(item["input_view2"])
    assert all(torch.equal(v, views[0]) for v in views)           # the teacher's view never moves
    assert torch.equal(valid[2]["input_view2"], views[0])        # ... and is what a cache run sees
    assert not all(torch.equal(f, firsts[0]) for f in firsts)     # the student's crop still moves
    other_seed = task.build_dataset(root, {"segment": 3000, "view2": "fixed"}, True, 8)
    assert torch.equal(other_seed[2]["input_view2"], views[0])    # one teacher cache for every training seed
    assert not torch.equal(other_seed[2]["input"], train[2]["input"])   # the student's crops follow the seed
    rand = task.build_dataset(root, {"segment": 3000}, True, 7)
    assert rand[2]["key"].startswith(f"{rand.utts[2]}@")          # default unchanged: crop in the key
    with pytest.raises(KdError, match="view2: 'sometimes' is not one of"):
        task.build_dataset(root, {"segment": 3000, "view2": "sometimes"}, True, 7)


def test_teacher_cache_on_fixed_view2_matches_the_live_teacher_in_a_later_epoch(tmp_path):
    root = make_speaker_dir(tmp_path / "d", trials=False)
    conf_t = {"num_classes": 6, "width": 0.125, "dropout": 0.0}
    torch.manual_seed(0)
    teacher = build_model("mobilenetv2", conf_t).eval()
    atomic_save({"model_name": "mobilenetv2", "model_conf": conf_t, "model": teacher.state_dict()},
                tmp_path / "teacher.pth")
    conf = tmp_path / "c.yaml"
    conf.write_text(f"""\
task: speaker_embedding
data: {{segment: 6000, view2: fixed}}
model: {{name: mobilenetv2, conf: {{num_classes: 4, width: 0.125}}}}
teachers: {{t: {{members: [{tmp_path / 'teacher.pth'}], input: input_view2}}}}
""")
    out = tmp_path / "cache.npz"
    cache_teacher.main(["--config", str(conf), "--teacher", "t", "--data", str(root), "--out", str(out),
                        "--seed", "3", "--device", "cpu", "--batch_size", "5"])
    z = np.load(out)
    ds = get_task("speaker_embedding").build_dataset(root, {"segment": 6000, "view2": "fixed"}, True, 3)
    assert sorted(map(str, z["keys"])) == sorted(ds.utts) and str(z["view"]) == "input_view2"
    ds.set_epoch(5)
    batch = torch.utils.data.default_collate([ds[i] for i in range(4)])
    cached = PrecomputedTeacher([out], name="t", view="input_view2")(batch)
    with torch.no_grad():
        live = teacher(batch["input_view2"])
    live = live["logits"] if isinstance(live, dict) else live
    name = "logits" if "logits" in cached else next(iter(cached))
    assert torch.allclose(cached[name], live, atol=1e-5)


def _pool(root, name, signals):
    from kdspeech.data.audio import save_audio
    from kdspeech.data.datadir import write_kv
    d = root / name
    scp = {}
    for i, x in enumerate(signals):
        save_audio(d / f"{name}{i}.wav", np.asarray(x, np.float32), 16000)
        scp[f"{name}{i}"] = str(d / f"{name}{i}.wav")
    write_kv(d / "wav.scp", scp)
    return d


def test_noise_and_reverberation_reach_the_student_view_only_in_training(tmp_path):
    from kdspeech.data.mix import snr_db
    root = make_speaker_dir(tmp_path / "d", trials=False)
    rng = np.random.default_rng(0)
    noise = _pool(tmp_path, "noise", [0.1 * rng.standard_normal(3000), 0.05 * rng.standard_normal(9000)])
    task = get_task("speaker_embedding")
    clean = task.build_dataset(root, {"segment": 4000, "view2": "fixed"}, True, 1)
    noisy = task.build_dataset(root, {"segment": 4000, "view2": "fixed", "noise": str(noise), "snr": [5, 10],
                                      "aug_prob": 1.0}, True, 1)
    for epoch in (1, 2):
        clean.set_epoch(epoch), noisy.set_epoch(epoch)
        for i in range(4):
            c, n = clean[i], noisy[i]
            assert torch.equal(c["input_view2"], n["input_view2"])       # the teacher's view stays clean
            snr = snr_db(c["input"].numpy(), (n["input"] - c["input"]).numpy())
            assert 5 - 1e-3 <= snr <= 10 + 1e-3
    assert torch.equal(noisy[1]["input"], noisy[1]["input"])             # seeded: the same draw again
    valid = task.build_dataset(root, {"segment": 4000, "noise": str(noise), "aug_prob": 1.0}, False, 1)
    plain = task.build_dataset(root, {"segment": 4000}, False, 1)
    assert torch.equal(valid[0]["input"], plain[0]["input"])              # no augmentation in evaluation
    # A delayed unit impulse as the room: aligned on its peak, the crop comes out unchanged.
    rir = _pool(tmp_path, "rir", [np.r_[np.zeros(30), 0.5, np.zeros(100)]])
    room = task.build_dataset(root, {"segment": 4000, "rir": str(rir), "aug_prob": 1.0}, True, 1)
    base = task.build_dataset(root, {"segment": 4000}, True, 1)
    np.testing.assert_allclose(room[0]["input"].numpy(), base[0]["input"].numpy(), atol=1e-6)
    echo = _pool(tmp_path, "echo", [np.r_[1.0, np.zeros(200), 0.8]])
    wet = task.build_dataset(root, {"segment": 4000, "rir": str(echo), "aug_prob": 1.0}, True, 1)
    assert not np.allclose(wet[0]["input"].numpy(), base[0]["input"].numpy(), atol=1e-3)
    with pytest.raises(KdError, match="snr: expected"):
        task.build_dataset(root, {"segment": 4000, "noise": str(noise), "snr": [10, 5]}, True, 1)
