"""The on-the-fly refinement in a stream (kdspeech.models.streaming.pse, issue 23 item 2): a
``pse_refine`` (TinyECAPA light similarity, alpha) around pDeepFilterNet2, E3Net and pDCCRN, streamed
hop by hop and flushed, against the offline model on the same file.

With ``chunking: wave`` the stream's window cosines are the offline ``similarity_chunks`` and its
output equals the offline enhancer given the causal frame rule over them (``causal_frames``: each
frame holds the latest window that ended by its time, the initial value before the first) to float
rounding, over the whole file.  The offline forward itself interpolates between chunk centres (up to
1 s of look-ahead): the difference is printed, not bounded.  With ``chunking: encoder`` (the PSE
recipe's pooled TinyECAPA) the stream embeds each window alone, i.e. its cosines are those of
``chunking: wave``.  The mixture is noise of changing spectral tilt, the encoder a one-block
TinyECAPA whose last BatchNorm is fitted to such noise, and the reference E the mean of the mixture's
chunk embeddings, so that the similarity moves inside (0, 1) at alpha 1.  Small random
configurations, one torch thread."""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.models.calling import as_outputs, primary
from kdspeech.models.streaming import state_numel, stream_model
from kdspeech.models.similarity import split_chunks
from kdspeech.models.streaming.pse import causal_frames
from kdspeech.models.tiny_ecapa import mean_std
from kdspeech.train.checkpoint import atomic_save
from test_streaming import SR, check_stream, one_thread, zero_start  # noqa: F401 (fixture)

ENHANCERS = {
    "pdfnet2": ({"conv_ch": 8, "emb_hidden": 32, "df_hidden": 32, "erb_bands": 16, "df_bins": 32}, 3),
    "e3net": ({"filters": 64, "fusion_dim": 32, "blocks": 1, "ffn_dim": 64, "lstm_units": 32}, 3),
    "dccrn": ({"channels": [8, 16], "lstm_units": 16, "lstm_layers": 1}, 2),
}


def tilted_noise(seconds, seed):
    """Noise whose spectral tilt and loudness change every 0.7 s ``[1, seconds x SR]``."""
    generator = torch.Generator().manual_seed(seed)
    length, segment = seconds * SR, 11200
    count = length // segment + 1
    noise = torch.randn(1, length + 1, generator=generator)
    tilt = (1.8 * torch.rand(1, count, generator=generator) - 0.9).repeat_interleave(segment, -1)
    gain = (0.05 + 0.5 * torch.rand(1, count, generator=generator)).repeat_interleave(segment, -1)
    return gain[:, :length] * (noise[:, 1:] + tilt[:, :length] * noise[:, :-1])


def encoder_file(tmp_path):
    """A one-block TinyECAPA (random weights) whose final BatchNorm statistics are those of tilted
    noise: its chunk embeddings then follow the mixture (a random deep one barely moves)."""
    torch.manual_seed(0)
    conf = {"emb_dim": 16, "channels": [24], "kernels": [3], "se_channels": [6], "chunk": 1.0}
    model = build_model("tiny_ecapa", conf).eval()
    with torch.no_grad():
        chunks = split_chunks(tilted_noise(4, seed=2), SR, SR // 2)[0]
        projected = model.fc(mean_std(model.blocks(model.features(chunks))))
        model.bn.running_mean.copy_(projected.mean(0))
        model.bn.running_var.copy_(projected.var(0))
    atomic_save({"model_name": "tiny_ecapa", "model_conf": conf, "model": model.state_dict()},
                tmp_path / "tiny.pth")
    return {"loader": "kdspeech", "path": str(tmp_path / "tiny.pth")}


def refine_model(tmp_path, enhancer, chunking="wave", alpha=1.0):
    torch.manual_seed(0)
    conf = {"enhancer": {"name": enhancer, "conf": ENHANCERS[enhancer][0]},
            "encoder": encoder_file(tmp_path), "chunk": 1.0, "alpha": alpha, "chunking": chunking}
    return build_model("pse_refine", conf).eval()


def signal(model, seconds):
    """Tilted noise, and E: the mean of its chunks' embeddings."""
    wav = tilted_noise(seconds, seed=1)
    with torch.no_grad():
        chunks = model.chunk_embeddings(wav)
    return wav, torch.nn.functional.normalize(chunks.mean(1), dim=-1)


@pytest.mark.parametrize("hops", [1, 2, 4, 5, 7])
@pytest.mark.parametrize("enhancer", list(ENHANCERS))
def test_refinement_stream_matches_offline(tmp_path, enhancer, hops):
    """k hops a step: the windows that complete inside a step split its frames' similarity; the
    output is the one-hop stream's and, like it, the offline enhancer's over the causal rule."""
    model = refine_model(tmp_path, enhancer)
    wav, emb = signal(model, ENHANCERS[enhancer][1])
    stream = stream_model(model, enroll_emb=emb, hops_per_step=hops)
    assert stream.step_size == hops * stream.hop and stream.latency == stream.delay + (hops - 1) * stream.hop
    frames = model.enhancer.num_frames(wav.shape[-1])
    with torch.no_grad():
        offline = model(wav, emb)
        sim = causal_frames(offline["similarity_chunks"], frames, stream.hop, model.chunk, model.hop,
                            model.alpha, stream.initial)
        refined = torch.cat([emb[:, None].expand(-1, frames, -1), sim[..., None]], -1)
        expected = primary(as_outputs(model.enhancer(wav, refined)))
        first, state = stream.run(wav[:, :SR])
        rest, state_end = stream.run(wav[:, SR:], state)
        tail = stream.flush(state_end)
    inside = sim[(sim > 0) & (sim < 1)]
    assert inside.unique().numel() >= 2                 # the similarity moves, unclipped
    assert zero_start(stream)
    assert (state_end["cosine"] - offline["similarity_chunks"][:, -1]).abs().max() < 1e-5
    check_stream(f"pse_refine/{enhancer}", torch.cat([first, rest], -1), tail, expected, state,
                 state_end, stream.delay)
    streamed = torch.cat([first, rest, tail], -1)[:, stream.delay:]
    if hops > 1:
        with torch.no_grad():
            one = stream_model(model, enroll_emb=emb).run_file(wav)
        assert (streamed[:, :one.shape[-1]] - one).abs().max() < 1e-5
        assert (state_end["sim"] - stream.one_hop().run(wav)[1]["sim"]).abs().max() == 0
    print(f"  against the offline forward (interpolated similarity): max |sim| diff "
          f"{(sim - offline['similarity']).abs().max().item():.3g}, max |out| diff "
          f"{(streamed - offline['out']).abs().max().item():.3g}; state {state_numel(state_end)} elements")


def test_recipe_encoder_chunking_streams_the_window_cosines(tmp_path):
    """``chunking: encoder`` (a pooled TinyECAPA over the whole mixture, the recipe's) is not causal;
    the stream's cosines are those of each window embedded alone (``chunking: wave``)."""
    model = refine_model(tmp_path, "e3net", chunking="encoder")
    wav, emb = signal(model, 2)
    stream = stream_model(model, enroll_emb=emb)
    with torch.no_grad():
        _, state = stream.run(wav)
        pooled = model.refined_embedding(wav, emb)[2]
        model.chunking = "wave"
        windows = model.refined_embedding(wav, emb)[2]
    assert (state["cosine"] - windows[:, -1]).abs().max() < 1e-5
    print(f"pooled vs per-window chunk cosines: max diff {(pooled - windows).abs().max().item():.3g}")


def test_refinement_stream_errors(tmp_path):
    model = refine_model(tmp_path, "e3net")
    with pytest.raises(KdError, match=r"reference embedding E \[B, 16\]"):
        stream_model(model)
    with pytest.raises(KdError, match=r"reference embedding E \[B, 16\]"):
        stream_model(model, enroll_emb=torch.zeros(1, 17))
    with pytest.raises(KdError, match="initial"):
        stream_model(model, enroll_emb=torch.zeros(1, 16), initial=2.0)
    with pytest.raises(KdError, match="hops_per_step must be a positive integer"):
        stream_model(model, enroll_emb=torch.zeros(1, 16), hops_per_step=0)
    with pytest.raises(KdError, match=r"a step takes 4 hops of 160 \[B, 640\]"):
        stream = stream_model(model, enroll_emb=torch.zeros(1, 16), hops_per_step=4)
        stream.step(torch.zeros(1, 160), stream.init_state())
    stream = stream_model(model, enroll_emb=torch.zeros(1, 16))
    with pytest.raises(KdError, match="enroll_emb has batch 1"):
        stream.step(torch.zeros(2, 160), stream.init_state(2))
    assert "enhancer=E3Net;" in stream.tag and "alpha=1.0" in stream.tag
    with pytest.raises(KdError, match=r"alpha 1.0 \(this stream: 6.0\)"):
        model.alpha = 6.0
        stream_model(model, enroll_emb=torch.zeros(1, 16)).step(torch.zeros(1, 160), stream.init_state())
