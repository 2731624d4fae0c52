"""The similarity sequence of on-the-fly embedding refinement, function by function, against hand values."""

import numpy as np
import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models.similarity import (chunk_count, chunk_geometry, cosine_sequence, scale_clip,
                                        split_chunks, to_frames)


@pytest.mark.parametrize("seconds", [1, 2, 3, 4, 10])
def test_chunk_count_is_2T_over_Tprime_minus_1(seconds):
    chunk, hop = chunk_geometry(1.0, 16000)
    assert (chunk, hop) == (16000, 8000)
    assert chunk_count(seconds * 16000, chunk, hop) == 2 * seconds - 1
    chunk, hop = chunk_geometry(0.5, 16000)
    assert chunk_count(seconds * 16000, chunk, hop) == 2 * seconds / 0.5 - 1


def test_chunk_count_between_multiples_and_too_short():
    # 2.7 s with T' = 1 s: chunks start at 0, 0.5, 1.0, 1.5 s (the next would end at 3.0 s)
    assert chunk_count(int(2.7 * 16000), 16000, 8000) == 4
    assert chunk_count(16000, 16000, 8000) == 1
    with pytest.raises(KdError, match="shorter than one chunk"):
        chunk_count(15999, 16000, 8000)


def test_split_chunks_are_the_overlapping_windows():
    wav = torch.arange(2 * 20, dtype=torch.float32).reshape(2, 20)
    chunks = split_chunks(wav, 8, 4)
    assert chunks.shape == (2, 4, 8)
    for k in range(4):
        assert torch.equal(chunks[:, k], wav[:, 4 * k:4 * k + 8])
    with pytest.raises(KdError, match="shorter than one chunk"):
        split_chunks(wav[:, :7], 8, 4)


def test_cosine_sequence_against_numpy():
    rng = np.random.default_rng(0)
    m, e = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 5))
    got = cosine_sequence(torch.tensor(m, dtype=torch.float32), torch.tensor(e, dtype=torch.float32))
    want = np.einsum("bkd,bd->bk", m, e) / (np.linalg.norm(m, axis=-1) * np.linalg.norm(e, axis=-1)[:, None])
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(KdError, match="same B and D"):
        cosine_sequence(torch.zeros(2, 3, 5), torch.zeros(2, 4))


def test_to_frames_by_hand():
    # chunk 8 samples, hop 4, T = 20: K = 4 chunks with centres at samples 4, 8, 12, 16;
    # F = 10 frames of 2 samples, centres at 1, 3, ..., 19.
    sim = torch.tensor([[0.2, 0.6, 1.0, 0.4]])
    got = to_frames(sim, num_frames=10, num_samples=20, chunk=8, hop=4)
    # before the first centre (1, 3): padded with 0.2; 5 = 4 + 1/4 of the way to 8: 0.2 + 0.25 x 0.4;
    # 7: 0.2 + 0.75 x 0.4; 9, 11 between 0.6 and 1.0; 13, 15 between 1.0 and 0.4; 17, 19: padded 0.4
    want = [0.2, 0.2, 0.3, 0.5, 0.7, 0.9, 0.85, 0.55, 0.4, 0.4]
    np.testing.assert_allclose(got[0].numpy(), want, atol=1e-6)


def test_to_frames_matches_np_interp_at_frame_centres():
    rng = np.random.default_rng(1)
    chunk, hop, num_samples, num_frames = 16000, 8000, 3 * 16000 + 5000, 331
    count = chunk_count(num_samples, chunk, hop)
    sim = rng.uniform(-1, 1, (2, count))
    got = to_frames(torch.tensor(sim), num_frames, num_samples, chunk, hop)
    assert got.shape == (2, num_frames)
    centres = (np.arange(num_frames) + 0.5) * num_samples / num_frames
    for b in range(2):
        want = np.interp(centres, chunk / 2 + hop * np.arange(count), sim[b])
        np.testing.assert_allclose(got[b].numpy(), want, atol=1e-9)


def test_to_frames_single_chunk_is_constant():
    got = to_frames(torch.tensor([[0.3]]), 7, 16000, 16000, 8000)
    np.testing.assert_allclose(got.numpy(), np.full((1, 7), 0.3), atol=1e-7)


def test_scale_clip():
    x = torch.tensor([-0.2, 0.0, 0.1, 0.5, 0.9, 1.3])
    assert torch.allclose(scale_clip(x), torch.tensor([0.0, 0.0, 0.1, 0.5, 0.9, 1.0]))
    assert torch.allclose(scale_clip(x, alpha=6.0), torch.tensor([0.0, 0.0, 0.6, 1.0, 1.0, 1.0]))
    assert torch.allclose(scale_clip(x, alpha=2), torch.tensor([0.0, 0.0, 0.2, 1.0, 1.0, 1.0]))

