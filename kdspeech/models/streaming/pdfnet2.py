"""Streaming pDeepFilterNet2 / DeepFilterNet2 (``kdspeech.models.pdfnet2``), as DeepFilterNet's own
runtime processes a frame: STFT frame in, the features' running normalisations updated, the network
run on one frame, the deep filter over the last ``df_order`` masked frames, one frame out.

Causality of the offline model, part by part: the STFT is zero-padded and centred; the feature
normalisations (ERB running mean, unit-norm running magnitude) are exponential smoothings from a fixed
initial state, causal (the offline code computes them a block of 64 frames at a time with a cumulative
sum, the stream as the recursion ``s = alpha s + (1 - alpha) x``: equal to float rounding); every
convolution is causal in time (left padding), the GRUs are unidirectional, BatchNorm runs on running
statistics.  Two look-aheads, both bounded: the network's frame n sees the features of frame ``n +
conv_lookahead`` (2), and the deep filter of frame t takes the masked frames up to ``t +
df_lookahead`` (2), each of which needs its own network frame.  So the estimate of frame t is ready
after STFT frame ``t + conv_lookahead + df_lookahead``: ``lookahead`` = 4 frames, delay ``n_fft/2 + 4
hop`` = 800 samples (50 ms) at the defaults (n_fft 320, hop 160).  Nothing is left out: at the end of a
file ``flush`` runs the last frames on zero features and zero masked frames past the end, as the
offline model pads them, so a streamed and flushed file equals the offline output.

State (all zeros at the start, the normalisation states kept relative to their initial values, as
the ONNX export of the step wants): the two normalisation states, the last ``conv_lookahead`` noisy spectra, per convolution with
a time kernel ``kt`` > 1 its last ``kt - 1`` input frames (erb_conv0, df_conv0: 2; df_convp: 4), the
three squeezed GRUs' hidden states, the last ``df_order - 1`` masked spectra and ``df_lookahead`` sets
of filter coefficients.  Speaker: ``enroll_emb [B, emb_dim]`` fixed, or per step (``step(..., emb=)``:
the refinement of ``kdspeech.models.streaming.pse``).

``hops_per_step`` k: a steady step runs its k frames through the features (the normalisations'
recursions frame by frame), every convolution, the GRUs' input products (``gru_frames``) and the deep
filter at once; latency ``delay + (k - 1) hop``.
"""

import torch
from torch import nn

from kdspeech.models.streaming.base import check_emb, gru_frames, pick_emb
from kdspeech.models.streaming.spectral import SpectralStream


def _conv_step(block, buf, x):
    """Frames ``x [B, C, n, F]`` through a pdfnet2 ``conv_block``: (output frames, new buffer or None)."""
    if not isinstance(block[0], nn.ConstantPad2d):
        return block(x), None
    kt = block[0].padding[2] + 1
    if buf is None:
        buf = x.new_zeros(x.shape[0], x.shape[1], kt - 1, x.shape[3])
    inp = torch.cat([buf, x], 2)
    return block[1:](inp), inp[:, :, x.shape[2]:]


class PDfNet2Stream(SpectralStream):
    def __init__(self, model, enroll_emb=None, sample_rate=16000, frame_wise=False, hops_per_step=1):
        self.lookahead = model.conv_lookahead + model.df_lookahead
        self.net_lag = model.conv_lookahead
        super().__init__(model, model.stft, sample_rate, hops_per_step, emb_dim=model.emb_dim,
                         df_bins=model.df_bins,
                         df_order=model.df_order, lookahead=f"{model.conv_lookahead},{model.df_lookahead}",
                         conv_ch=model.enc.erb_conv0[1].out_channels)
        self.enroll_emb = check_emb(self.name, model.emb_dim, enroll_emb, frame_wise)

    def init_net_state(self, batch):
        model, feats = self.model, self.model.features
        bins, fdf = self.n_fft // 2 + 1, model.df_bins
        zero_erb = torch.zeros(batch, 1, 1, feats.erb_fb.shape[1])
        speaker = torch.zeros(batch, 1, model.emb_dim) if model.emb_dim else None
        probe = {}
        with torch.no_grad():
            self._network(zero_erb, torch.zeros(batch, 2, 1, fdf), speaker, {}, probe)
        state = {k: torch.zeros_like(v) for k, v in probe.items()}
        state["norm.erb"] = torch.zeros(batch, feats.erb_fb.shape[1])   # minus erb_init
        state["norm.unit"] = torch.zeros(batch, fdf)                      # minus unit_init
        state["spec"] = torch.zeros(batch, model.conv_lookahead, bins, 2)
        state["masked"] = torch.zeros(batch, model.df_order - 1, bins, 2)
        state["coefs"] = torch.zeros(batch, model.df_lookahead, fdf, model.df_order, 2)
        return state

    def _features(self, spec, net, new):
        """libDF's features of frames ``spec [B, n, bins]``, the running normalisations advanced frame
        by frame (``Features``): ``([B, 1, n, E], [B, 2, n, Fdf])``."""
        f, fdf = self.model.features, self.model.df_bins
        spec = spec * f.scale
        power = spec.real.square() + spec.imag.square()
        erb_db = 10 * torch.log10(power @ f.erb_fb + 1e-10)
        magnitude = power[..., :fdf].clamp_min(1e-14).sqrt()
        erb, unit, erb_means, units = net["norm.erb"] + f.erb_init, net["norm.unit"] + f.unit_init, [], []
        for t in range(spec.shape[1]):
            erb = f.alpha * erb + (1 - f.alpha) * erb_db[:, t]
            unit = f.alpha * unit + (1 - f.alpha) * magnitude[:, t]
            erb_means.append(erb)
            units.append(unit)
        new["norm.erb"], new["norm.unit"] = erb - f.erb_init, unit - f.unit_init
        low = spec[..., :fdf] / torch.stack(units, 1).sqrt()
        feat_erb = ((erb_db - torch.stack(erb_means, 1)) / 40)[:, None]
        return feat_erb, torch.stack([low.real, low.imag], 1)

    @staticmethod
    def _gru(key, mod, x, net, new):
        """A ``SqueezedGRU`` on frames ``[B, n, in]`` with its hidden state."""
        x = mod.linear_in(x)
        y, new[f"gru.{key}"] = gru_frames(mod.gru, x, net.get(f"gru.{key}"))
        if mod.skip:
            y = y + x
        return y if mod.linear_out is None else mod.linear_out(y)

    def _network(self, feat_erb, feat_spec, speaker, net, new):
        """Encoder, ERB decoder and DF decoder on n frames: (gains [B, n, bins], coefs [B, n, Fdf, O, 2])."""
        model, enc, erb, dfd = self.model, self.model.enc, self.model.erb_dec, self.model.df_dec

        def conv(key, block, x):
            y, buf = _conv_step(block, net.get(f"conv.{key}"), x)
            if buf is not None:
                new[f"conv.{key}"] = buf
            return y

        e0 = conv("erb0", enc.erb_conv0, feat_erb)
        e1 = conv("erb1", enc.erb_conv1, e0)
        e2 = conv("erb2", enc.erb_conv2, e1)
        e3 = conv("erb3", enc.erb_conv3, e2)
        c0 = conv("df0", enc.df_conv0, feat_spec)
        c1 = conv("df1", enc.df_conv1, c0)
        cemb = enc.df_fc_emb(c1.permute(0, 2, 3, 1).flatten(2))          # [B, 1, C E/4]
        emb = e3.permute(0, 2, 3, 1).flatten(2)
        emb = torch.cat([emb, cemb], -1) if enc.concat else emb + cemb
        if speaker is not None:
            emb = torch.cat([emb, speaker.expand(-1, emb.shape[1], -1)], -1)
        emb = self._gru("enc", enc.emb_gru, emb, net, new)
        batch, _, n, bands = e3.shape
        x = self._gru("erb", erb.emb_gru, emb, net, new).view(batch, n, bands, -1).permute(0, 3, 1, 2)
        e3 = conv("t3", erb.convt3, conv("p3", erb.conv3p, e3) + x)
        e2 = conv("t2", erb.convt2, conv("p2", erb.conv2p, e2) + e3)
        e1 = conv("t1", erb.convt1, conv("p1", erb.conv1p, e1) + e2)
        gains = conv("out", erb.conv0_out, conv("p0", erb.conv0p, e0) + e1)[:, 0] @ model.erb_inverse
        pathway = conv("dfp", dfd.df_convp, c0).permute(0, 2, 3, 1)       # [B, n, Fdf, 2 O]
        coefs = dfd.df_out(self._gru("df", dfd.df_gru, emb, net, new)).view(batch, n, dfd.df_bins, -1)
        return gains, (coefs + pathway).unflatten(-1, (model.df_order, 2))

    def frames(self, spec, net, m, emb, end):
        model, new = self.model, dict(net)
        ahead, order, fdf, late = model.conv_lookahead, model.df_order, model.df_bins, model.df_lookahead
        batch = net["masked"].shape[0]
        if spec is None:                      # past the end of the file: zero features, zero spectra
            spec_ri = net["masked"].new_zeros(batch, 1, self.n_fft // 2 + 1, 2)
            feats = None
        else:
            spec_ri = torch.view_as_real(spec)                           # [B, n, bins, 2]
            feats = self._features(spec, net, new)
        count = spec_ri.shape[1]
        line = torch.cat([net["spec"], spec_ri], 1)
        spec_n, new["spec"] = line[:, :count], line[:, count:]
        n = m - ahead                         # the first network frame these STFT frames complete
        if n < 0:
            return None, new
        if end > ahead:                       # masked frames past the end are zeros
            masked = torch.zeros_like(spec_n)
            coefs = net["coefs"].new_zeros(batch, 1, fdf, order, 2)
        else:
            if feats is None:
                feats = (spec_n.new_zeros(batch, 1, 1, model.features.erb_fb.shape[1]),
                         spec_n.new_zeros(batch, 2, 1, fdf))
            speaker = pick_emb(self, emb, batch, count).to(spec_n.dtype) if model.emb_dim else None
            gains, coefs = self._network(feats[0], feats[1], speaker, net, new)
            masked = spec_n * gains[..., None]
        frames = torch.cat([net["masked"], masked], 1)         # [B, O - 1 + n, bins, 2]: n - O + 1 ..
        coef_line = torch.cat([net["coefs"], coefs], 1)        # [B, l + n, Fdf, O, 2]: n - l ..
        new["masked"], new["coefs"] = frames[:, count:], coef_line[:, count:]
        if n - late < 0:
            return None, new
        taps = torch.stack([frames[:, j:j + order, :fdf] for j in range(count)], 1)   # [B, n, O, Fdf, 2]
        taps = taps.permute(0, 1, 3, 2, 4)                                          # [B, n, Fdf, O, 2]
        a, b = taps[..., 0], taps[..., 1]
        c, d = coef_line[:, :count, ..., 0], coef_line[:, :count, ..., 1]
        current = frames[:, order - 1 - late:order - 1 - late + count]            # stage-1 output
        real = torch.cat([(a * c - b * d).sum(-1), current[..., fdf:, 0]], -1)
        imag = torch.cat([(a * d + b * c).sum(-1), current[..., fdf:, 1]], -1)
        return torch.complex(real, imag), new
