"""Streaming inference (kdspeech.models.streaming) of CRN and DCCRN: hop-by-hop output equals the
offline forward delayed by the stated delay, the flush completes the file, the state does not grow,
states are checked, and non-causal models refuse to stream.  (pDeepFilterNet2: test_streaming_pdfnet2;
E3Net and TinyECAPA: test_streaming_e3net_ecapa; the on-the-fly refinement: test_streaming_pse.)

Small configurations with random weights and random BatchNorm running statistics, eval mode, a
3-second random signal at 16 kHz streamed as 1 s then 2 s, then flushed: the streamed and flushed
output, its first ``delay`` samples dropped, equals the offline output over the whole file (the
edges included: zeros for DCCRN, mirrored for CRN, the right one by the flush).  One torch thread:
the per-hop steps are small and thread hand-offs dominate them on a loaded machine.
"""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models.crn import CRN
from kdspeech.models.dccrn import DCCRN
from kdspeech.models.streaming import stream_model, state_numel

SR = 16000


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomise_norms(model, generator):
    for module in model.modules():
        for name, buf in module.named_buffers(recurse=False):
            if name == "running_mean" or name in ("running_mr", "running_mi"):
                buf.copy_(0.1 * torch.randn(buf.shape, generator=generator))
            elif name in ("running_var", "running_Vrr", "running_Vii"):
                buf.copy_(0.5 + torch.rand(buf.shape, generator=generator))
            elif name == "running_Vri":
                buf.copy_(0.1 * torch.rand(buf.shape, generator=generator))
    return model


CASES = {
    "crn": (lambda: CRN(channels=(8, 16, 32), lstm_layers=2), {}),
    "dccrn": (lambda: DCCRN(channels=(8, 16, 32, 32), lstm_units=64), {}),
    "dccrn_bn_C": (lambda: DCCRN(channels=(8, 16, 32), lstm_units=32, masking="C", complex_bn=False), {}),
    "pdccrn_R": (lambda: DCCRN(channels=(8, 16, 32), lstm_units=32, masking="R", emb_dim=8),
                 {"enroll_emb": "emb"}),
}


@pytest.mark.parametrize("hops", [1, 2, 4])
@pytest.mark.parametrize("case", list(CASES))
def test_stream_matches_offline(case, hops):
    """k = ``hops`` hops a step: the same output and delay, latency ``delay + (k - 1) hop``."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    build, kwargs = CASES[case]
    model = randomise_norms(build(), generator).eval()
    emb = None
    if kwargs:
        emb = torch.nn.functional.normalize(torch.randn(1, model.emb_dim, generator=generator), dim=-1)
    stream = stream_model(model, hops_per_step=hops, **({"enroll_emb": emb} if emb is not None else {}))
    assert stream.step_size == hops * stream.hop and stream.latency == stream.delay + (hops - 1) * stream.hop
    assert stream.tag == stream_model(model, **({"enroll_emb": emb} if emb is not None else {})).tag
    length = 3 * SR - (3 * SR) % stream.hop
    wav = 0.3 * torch.randn(1, length, generator=generator)
    with torch.no_grad():
        offline = model(wav, emb) if emb is not None else model(wav)
        offline = offline["wav"] if isinstance(offline, dict) else offline
        one_s = SR - SR % stream.hop
        first, state = stream.run(wav[:, :one_s])
        rest, state3 = stream.run(wav[:, one_s:], state)
        tail = stream.flush(state3)
    streamed = torch.cat([first, rest], -1)
    delay = stream.delay
    assert delay == (stream.lag + stream.extra - 1) * stream.hop + model.stft.n_fft // 2
    assert tail.shape == (1, delay) and zero_start(stream)
    check_stream(case, streamed, tail, offline, state, state3, delay)


def zero_start(stream, batch=1):
    """A fresh state is all zeros (what the ONNX export of a step assumes)."""
    return not any(bool(t.any()) for t in flat(stream.init_state(batch)))


def check_stream(case, streamed, tail, offline, state, state3, delay, tol=1e-5):
    """Streamed [B, T] then flushed [B, delay] == offline [B, T] delayed by ``delay``; the state the
    same size after 1 s and after 3 s."""
    length = streamed.shape[-1]
    diff = (streamed[:, delay:] - offline[:, :length - delay]).abs().max().item()
    whole = (torch.cat([streamed, tail], -1)[:, delay:] - offline).abs().max().item()
    scale = offline.abs().max().item()
    print(f"{case}: delay {delay} samples, max |stream - offline| {diff:.3g}, with the flush over the "
          f"whole file {whole:.3g} (output max {scale:.3g}), state {state_numel(state3)} elements")
    assert scale > 1e-3
    assert diff < tol and whole < tol
    assert state_numel(state) == state_numel(state3)  # after 1 s and after 3 s
    assert all(t.shape == u.shape for t, u in zip(flat(state), flat(state3)))


def flat(state):
    if torch.is_tensor(state):
        return [state]
    if isinstance(state, dict):
        return [t for v in state.values() for t in flat(v)]
    if isinstance(state, (list, tuple)):
        return [t for v in state for t in flat(v)]
    return []


def test_offline_forward_untouched_by_streaming():
    torch.manual_seed(0)
    model = CRN(channels=(8, 16), lstm_layers=1).eval()
    wav = torch.randn(1, 4000)
    with torch.no_grad():
        before = model(wav)
        stream_model(model).run(wav[:, :3200])
        after = model(wav)
    assert torch.equal(before, after)


def test_non_streaming_models_and_bad_input():
    from kdspeech.models.psm_blstm import PsmBlstm
    from kdspeech.models.waveunet import WaveUNet
    for model, words in ((WaveUNet(num_layers=2, num_decimations=1, base_channels=4, growth=4), "WaveUNet"),
                         (PsmBlstm(layers=1, hidden=8), "bidirectional")):
        with pytest.raises(KdError, match="cannot stream") as err:
            stream_model(model.eval())
        assert words in str(err.value)
    crn = CRN(channels=(8, 16), lstm_layers=1)
    with pytest.raises(KdError, match="eval"):
        stream_model(crn)  # training mode
    stream = stream_model(crn.eval())
    state = stream.init_state()
    with pytest.raises(KdError, match="one hop"):
        stream.step(torch.zeros(1, stream.hop + 1), state)
    other = stream_model(DCCRN(channels=(8, 16), lstm_units=16).eval())
    with pytest.raises(KdError, match="init_state"):
        stream.step(torch.zeros(1, stream.hop), other.init_state())
    with pytest.raises(KdError, match="enroll_emb"):
        stream_model(DCCRN(channels=(8, 16), lstm_units=16, emb_dim=4).eval())


@pytest.mark.parametrize("build", [lambda: CRN(channels=(8, 16), lstm_layers=1),
                                   lambda: DCCRN(channels=(8, 16), lstm_units=16)])
def test_several_hops_a_step(build):
    """A k-hop step refuses a chunk of another length naming k hops and the length; its state is a
    one-hop stream's (the streams continue each other); a bad ``hops_per_step`` is named."""
    model = build().eval()
    stream = stream_model(model, hops_per_step=4)
    with pytest.raises(KdError, match=rf"4 hops of {stream.hop} \[B, {4 * stream.hop}\]"):
        stream.step(torch.zeros(1, stream.hop), stream.init_state())
    for bad in (0, 1.5, "2"):
        with pytest.raises(KdError, match="hops_per_step must be a positive integer"):
            stream_model(model, hops_per_step=bad)
    wav = torch.randn(1, 40 * stream.hop)
    with torch.no_grad():
        whole, _ = stream_model(model).run(wav)
        first, state = stream.run(wav[:, :24 * stream.hop])            # steps of 4 hops
        rest, _ = stream_model(model).run(wav[:, 24 * stream.hop:], state)
        odd, _ = stream.run(wav[:, :38 * stream.hop])                  # last step of 2 hops
    assert (torch.cat([first, rest], -1) - whole).abs().max() < 1e-5
    assert (odd - whole[:, :38 * stream.hop]).abs().max() < 1e-5


def test_state_checks_name_what_differs():
    crn = CRN(channels=(8, 16), lstm_layers=1).eval()
    stream, chunk = stream_model(crn), torch.zeros(1, 160)
    assert stream.sample_rate == 16000 and "sr=16000" in stream.tag and "model=CRN" in stream.tag
    dccrn_state = stream_model(DCCRN(channels=(8, 16), lstm_units=16).eval()).init_state()
    with pytest.raises(KdError, match=r"model DCCRN \(this stream: CRN\)"):
        stream.step(chunk, dccrn_state)
    with pytest.raises(KdError, match=r"sr 8000 \(this stream: 16000\)"):
        stream.step(chunk, stream_model(crn, sample_rate=8000).init_state())
    old = stream.init_state()
    old["tag"] = old["tag"].replace("stream=", "stream=1")
    with pytest.raises(KdError, match="another model or version"):
        stream.step(chunk, old)
    with pytest.raises(KdError, match="batch of 1"):
        stream.step(chunk, stream.init_state(2))
    missing = stream.init_state()
    del missing["ola"]
    with pytest.raises(KdError, match="ola"):
        stream.step(chunk, missing)
    with pytest.raises(KdError, match="no tag"):
        stream.step(chunk, {"ola": torch.zeros(1)})
    with pytest.raises(KdError, match="no tag"):
        stream.flush(None)
    with pytest.raises(KdError, match="16000 Hz.*8000 Hz"):
        stream.check_rate(8000)
    stream.check_rate(16000)


def test_run_file_pads_a_partial_hop():
    """``run_file`` of a length that is not a multiple of the hop: the input length back, aligned."""
    crn = CRN(channels=(8, 16), lstm_layers=1).eval()
    stream = stream_model(crn)
    wav = torch.randn(2, 8000)
    with torch.no_grad():
        out = stream.run_file(wav[:, :7950])
        full = stream.run_file(wav)
        offline = crn(wav)
    assert out.shape == (2, 7950)
    assert (full - offline).abs().max().item() < 1e-5
    # the padded last hop changes only the samples its frames reach
    assert (out[:, :7950 - crn.n_fft] - offline[:, :7950 - crn.n_fft]).abs().max().item() < 1e-5
