"""Streaming E3Net and TinyECAPA's chunk embeddings (kdspeech.models.streaming.e3net, .tiny_ecapa).

E3Net: a 3-second signal streamed hop by hop (1 s, then 2 s) and flushed equals the offline forward
over the whole file after ``win - hop`` samples; the state does not grow.  TinyECAPA (``chunk: 1.0``,
``chunk_mode: split``): the stream of chunk embeddings, flushed, equals the offline ``emb_chunks``
(files of 3 s, of 1.5 s + 3 hops, shorter than one window); the pooled mode, ``cmn`` and no chunk
refuse to stream, naming why.  Small random configurations, one torch thread."""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models.e3net import E3Net
from kdspeech.models.streaming import state_numel, stream_model
from kdspeech.models.tiny_ecapa import TinyEcapa
from test_streaming import SR, check_stream, one_thread, randomise_norms, zero_start  # noqa: F401 (fixture)

E3NET = {"filters": 64, "fusion_dim": 32, "blocks": 2, "ffn_dim": 64, "lstm_units": 24}
ECAPA = {"emb_dim": 16, "channels": (16, 16, 24), "se_channels": (4, 4, 6), "chunk": 1.0}


@pytest.mark.parametrize("hops", [1, 2, 4])
@pytest.mark.parametrize("emb_dim,win,hop", [(8, 320, 160), (0, 400, 160)])
def test_e3net_stream_matches_offline(emb_dim, win, hop, hops):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = E3Net(emb_dim=emb_dim, win=win, hop=hop, **E3NET).eval()
    emb = torch.nn.functional.normalize(torch.randn(2, 8, generator=generator), dim=-1)
    stream = stream_model(model, hops_per_step=hops, **({"enroll_emb": emb} if emb_dim else {}))
    assert stream.delay == win - hop and stream.latency == stream.delay + (hops - 1) * hop
    wav = 0.3 * torch.randn(2, 3 * SR, generator=generator)
    with torch.no_grad():
        offline = model(wav, emb if emb_dim else None)["out"]
        first, state = stream.run(wav[:, :SR])
        rest, state3 = stream.run(wav[:, SR:], state)
        tail = stream.flush(state3)
    streamed = torch.cat([first, rest], -1)
    assert streamed[:, :stream.delay].abs().max() == 0  # before the signal
    assert zero_start(stream)
    check_stream(f"e3net emb {emb_dim} win {win}", streamed, tail, offline, state, state3, stream.delay)


def test_e3net_stream_errors():
    model = E3Net(emb_dim=8, **E3NET)
    with pytest.raises(KdError, match="eval"):
        stream_model(model, enroll_emb=torch.zeros(1, 8))
    model.eval()
    with pytest.raises(KdError, match=r"enroll_emb \[B, 8\]"):
        stream_model(model)
    stream = stream_model(model, enroll_emb=torch.zeros(1, 8))
    with pytest.raises(KdError, match="one hop"):
        stream.step(torch.zeros(1, 320), stream.init_state())
    with pytest.raises(KdError, match=r"4 hops of 160 \[B, 640\]"):
        stream_model(model, enroll_emb=torch.zeros(1, 8), hops_per_step=4).step(torch.zeros(1, 320),
                                                                                stream.init_state())
    with pytest.raises(KdError, match="B = 2"):
        stream.step(torch.zeros(2, 160), stream.init_state(2))


@pytest.mark.parametrize("length", [3 * SR, SR + SR // 2 + 480, 9600])
def test_tiny_ecapa_chunk_stream_matches_offline(length):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = randomise_norms(TinyEcapa(**ECAPA, chunk_mode="split"), generator).eval()
    stream = stream_model(model)
    assert stream.hop == 160 and stream.delay == 800
    wav = 0.3 * torch.randn(2, length, generator=generator)
    with torch.no_grad():
        offline = model(wav)["emb_chunks"]
        streamed, state = stream.run(wav[:, :SR // 2])
        rest, state_end = stream.run(wav[:, SR // 2:], state)
        chunks = torch.cat([streamed, rest, stream.flush(state_end)], 1)
        for hops in (3, 64):   # k hops a step: the same embeddings (a step of 64 hops may complete two)
            many = stream_model(model, hops_per_step=hops)
            assert many.latency == many.delay + (hops - 1) * many.hop
            assert torch.equal(many.run_file(wav), stream.run_file(wav))
    diff = (chunks - offline).abs().max().item()
    print(f"tiny_ecapa {length} samples: {chunks.shape[1]} chunk embeddings, max |stream - offline| "
          f"{diff:.3g}, state {state_numel(state_end)} elements")
    assert chunks.shape == offline.shape and diff < 1e-5 and zero_start(stream)
    assert state_numel(state) == state_numel(state_end)
    if length == 3 * SR:  # window k is emitted 800 samples after its end, 16000 + 8000 k
        assert streamed.shape[1] == 0 and rest.shape[1] == (3 * SR - 800 - SR) // (SR // 2) + 1


def test_tiny_ecapa_stream_refusals():
    with pytest.raises(KdError, match="pool.*whole clip.*chunk_mode='split'"):
        stream_model(TinyEcapa(**ECAPA).eval())
    with pytest.raises(KdError, match="without chunk"):
        stream_model(TinyEcapa(**{**ECAPA, "chunk": None}, chunk_mode="split").eval())
    with pytest.raises(KdError, match="cmn"):
        stream_model(TinyEcapa(**ECAPA, chunk_mode="split", cmn=True).eval())
    pooled = TinyEcapa(**ECAPA).eval()
    stream = stream_model(pooled, chunk_mode="split")  # the split equivalent, on request
    with pytest.raises(KdError, match="hops_per_step must be a positive integer"):
        stream_model(pooled, chunk_mode="split", hops_per_step=0)
    assert stream.run(torch.zeros(1, 1600))[0].shape == (1, 0, 16)
