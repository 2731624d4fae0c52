"""Streaming pDeepFilterNet2 (kdspeech.models.streaming.pdfnet2), with and without the speaker
embedding: a 3-second signal streamed hop by hop (1 s, then 2 s) and flushed equals the offline
forward over the whole file after the stated delay (half a window + conv_lookahead + df_lookahead
frames); the state has the same size after 1 s and after 3 s; missing or mis-sized embeddings and
training mode are clear errors; the offline forward is untouched.  Small configurations, random
weights and BatchNorm statistics, one torch thread (``test_streaming.one_thread``)."""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models.pdfnet2 import PDeepFilterNet2
from kdspeech.models.streaming import stream_model
from test_streaming import SR, check_stream, one_thread, randomise_norms, zero_start  # noqa: F401 (fixture)

SMALL = {"conv_ch": 8, "emb_hidden": 32, "df_hidden": 32, "erb_bands": 16, "df_bins": 32}
CASES = {
    "pdfnet2_emb": {"emb_dim": 8},
    "dfnet2_no_emb": {"emb_dim": 0},
    # time kernels > 1 in every convolution (transposed ones included), other look-aheads and order
    "pdfnet2_kt2": {"emb_dim": 8, "conv_kernel": (2, 3), "conv_lookahead": 1, "df_lookahead": 1,
                    "df_order": 3},
}


@pytest.mark.parametrize("hops", [1, 2, 4])
@pytest.mark.parametrize("case", list(CASES))
def test_pdfnet2_stream_matches_offline(case, hops):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = randomise_norms(PDeepFilterNet2(**SMALL, **CASES[case]), generator).eval()
    emb = torch.nn.functional.normalize(torch.randn(1, 8, generator=generator), dim=-1)
    stream = stream_model(model, hops_per_step=hops, **({"enroll_emb": emb} if model.emb_dim else {}))
    assert stream.latency == stream.delay + (hops - 1) * stream.hop
    lookahead = model.conv_lookahead + model.df_lookahead
    assert stream.delay == model.stft.n_fft // 2 + lookahead * model.stft.hop  # 800 at the defaults
    wav = 0.3 * torch.randn(1, 3 * SR, generator=generator)
    with torch.no_grad():
        offline = model(wav, emb if model.emb_dim else None)["out"]
        first, state = stream.run(wav[:, :SR])
        rest, state3 = stream.run(wav[:, SR:], state)
        tail = stream.flush(state3)
        again = model(wav, emb if model.emb_dim else None)["out"]
    assert torch.equal(offline, again)
    assert zero_start(stream)
    check_stream(case, torch.cat([first, rest], -1), tail, offline, state, state3, stream.delay)


def test_pdfnet2_stream_errors():
    model = PDeepFilterNet2(**SMALL, emb_dim=8)
    with pytest.raises(KdError, match="eval"):
        stream_model(model)
    model.eval()
    with pytest.raises(KdError, match=r"enroll_emb \[B, 8\]"):
        stream_model(model)
    with pytest.raises(KdError, match=r"enroll_emb \[B, 8\]"):
        stream_model(model, enroll_emb=torch.zeros(1, 7))
    stream = stream_model(model, enroll_emb=torch.zeros(1, 8))
    with pytest.raises(KdError, match="one hop"):
        stream.step(torch.zeros(1, 100), stream.init_state())
    with pytest.raises(KdError, match=r"2 hops of 160 \[B, 320\]"):
        stream_model(model, enroll_emb=torch.zeros(1, 8), hops_per_step=2).step(torch.zeros(1, 160),
                                                                                stream.init_state())
    state = stream.init_state(2)
    with torch.no_grad(), pytest.raises(KdError, match="B = 2"):
        for _ in range(6):  # the first steps only fill the look-ahead; then the network needs [2, 8]
            _, state = stream.step(torch.zeros(2, 160), state)
    other = stream_model(PDeepFilterNet2(**{**SMALL, "conv_ch": 16}, emb_dim=8).eval(),
                         enroll_emb=torch.zeros(1, 8))
    with pytest.raises(KdError, match=r"conv_ch 16 \(this stream: 8\)"):
        stream.step(torch.zeros(1, 160), other.init_state())
