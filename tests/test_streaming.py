"""Streaming inference (kdspeech.models.streaming): hop-by-hop output equals the offline forward
delayed by the stated delay, the state does not grow, and non-causal models refuse to stream.

Small configurations with random weights and random BatchNorm running statistics, eval mode, a
3-second random signal at 16 kHz.  The comparison covers every output sample from the delay on, up to
``n_fft`` samples before the end of the file: the offline STFT pads the file's right edge, which a
stream cannot know (the left edge, zeros for DCCRN and mirrored for CRN, is reproduced exactly).
"""

import pytest
import torch

from kdspeech.errors import KdError
from kdspeech.models.crn import CRN
from kdspeech.models.dccrn import DCCRN
from kdspeech.models.streaming import stream_model, state_numel

SR = 16000


def _randomise_norms(model, generator):
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


@pytest.mark.parametrize("case", list(CASES))
def test_stream_matches_offline(case):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    build, kwargs = CASES[case]
    model = _randomise_norms(build(), generator).eval()
    emb = None
    if kwargs:
        emb = torch.nn.functional.normalize(torch.randn(1, model.emb_dim, generator=generator), dim=-1)
    stream = stream_model(model, **({"enroll_emb": emb} if emb is not None else {}))
    length = 3 * SR - (3 * SR) % stream.hop
    wav = 0.3 * torch.randn(1, length, generator=generator)
    with torch.no_grad():
        offline = model(wav, emb) if emb is not None else model(wav)
        offline = offline["wav"] if isinstance(offline, dict) else offline
        one_s = SR - SR % stream.hop
        first, state = stream.run(wav[:, :one_s])
        rest, state3 = stream.run(wav[:, one_s:], state)
    streamed = torch.cat([first, rest], -1)
    delay, n_fft = stream.delay, model.stft.n_fft
    assert delay == (stream.lag + stream.extra - 1) * stream.hop + n_fft // 2
    diff = (streamed[:, delay:] - offline[:, :length - delay])[:, :length - delay - n_fft]
    scale = offline.abs().max().item()
    print(f"{case}: delay {delay} samples, max |stream - offline| {diff.abs().max().item():.3g} "
          f"(output max {scale:.3g}), state {state_numel(state3)} elements")
    assert scale > 1e-3
    assert diff.abs().max().item() < 1e-5
    assert state_numel(state) == state_numel(state3)  # after 1 s and after 3 s
    assert all(t.shape == u.shape for t, u in zip(_flat(state), _flat(state3)))


def _flat(state):
    if torch.is_tensor(state):
        return [state]
    if isinstance(state, dict):
        return [t for v in state.values() for t in _flat(v)]
    if isinstance(state, (list, tuple)):
        return [t for v in state for t in _flat(v)]
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
