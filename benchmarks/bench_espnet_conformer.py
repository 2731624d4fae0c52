"""Conformer-CTC training step: kdspeech's ``conformer_ctc`` against ESPnet2's model of the same size, on
the same batch (issue 22's benchmark; ESPnet is not a dependency of kdspeech).

Both models are built from one config's sizes (default: the CPU config of egs/TEMPLATE/asr): log-mel
front end (512-point FFT, 400-sample window, hop 160, 80 mels), utterance mean/variance normalisation,
SpecAugment without time warping (2 frequency masks of 0-27 bins, 5 time masks of 0-5 %), conv2d
subsampling x4, Conformer blocks (macaron feed-forward, relative-position self-attention, Swish,
convolution module), CTC head. ESPnet's side is ``espnet2.asr.espnet_model.ESPnetASRModel`` with
``DefaultFrontend``, ``SpecAug``, ``UtteranceMVN``, ``ConformerEncoder`` (``rel_pos_type: latest``) and
``CTC``, ``ctc_weight 1.0`` and no decoder. One step = forward + CTC loss + backward + Adam. The two
models' steps alternate (ours, ESPnet's, ours, ...), so a load change on a shared machine hits both; the
medians and their ratio are printed. Asserts nothing.

ESPnet installs from PyPI without its many dependencies into a folder of its own:

    tools/venv/bin/python -m pip install --no-deps --target /tmp/espnet_site espnet typeguard \
        humanfriendly configargparse torch_complex
    PYTHONPATH=/tmp/espnet_site tools/venv/bin/python benchmarks/bench_espnet_conformer.py \
        [--batch 8] [--steps 10] [--threads 1] [--config egs/TEMPLATE/asr/conf/cpu/train_asr_conformer_ctc.yaml]

Figures (espnet 202511, torch 2.11, 1 thread, tcmalloc; the 2-core CPU shared with two recipe runs, load
average 4-5; batch 8 AN4 utterances, 19.9 s of audio; CPU config, both models 3.61 M parameters):

    run                    kdspeech s/step   ESPnet s/step   ratio
    6 steps alternating    0.956             0.894           1.069
    10 steps alternating   1.022             1.044           0.979

Within the aim of 1.1x; the two runs differ by more than the models do.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))   # an4_batch of bench_asr_conformer_ctc


def espnet_model(conf, vocab):
    """ESPnet2's Conformer-CTC with the sizes of kdspeech's ``conformer_ctc`` config ``conf``."""
    from espnet2.asr.ctc import CTC
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.espnet_model import ESPnetASRModel
    from espnet2.asr.frontend.default import DefaultFrontend
    from espnet2.asr.specaug.specaug import SpecAug
    from espnet2.layers.utterance_mvn import UtteranceMVN

    aug = conf.get("specaug") or {}
    encoder = ConformerEncoder(
        input_size=conf.get("mels", 80), output_size=conf["dim"], attention_heads=conf["heads"],
        linear_units=conf["units"], num_blocks=conf["blocks"], dropout_rate=conf.get("dropout", 0.1),
        positional_dropout_rate=conf.get("dropout", 0.1),
        attention_dropout_rate=conf.get("attention_dropout", 0.1), input_layer="conv2d",
        normalize_before=True, macaron_style=True, rel_pos_type="latest", pos_enc_layer_type="rel_pos",
        selfattention_layer_type="rel_selfattn", activation_type="swish", use_cnn_module=True,
        cnn_module_kernel=conf["kernel"])
    token_list = [f"t{i}" for i in range(vocab)]
    return ESPnetASRModel(
        vocab_size=vocab, token_list=token_list,
        frontend=DefaultFrontend(fs=16000, n_fft=512, win_length=400, hop_length=160,
                                 n_mels=conf.get("mels", 80)),
        specaug=SpecAug(apply_time_warp=False, freq_mask_width_range=(0, aug.get("freq_width", 27)),
                        num_freq_mask=aug.get("freq_masks", 2),
                        time_mask_width_ratio_range=(0.0, aug.get("time_ratio", 0.05)),
                        num_time_mask=aug.get("time_masks", 5)),
        normalize=UtteranceMVN(), preencoder=None, encoder=encoder, postencoder=None, decoder=None,
        ctc=CTC(odim=vocab, encoder_output_size=conf["dim"]), joint_network=None, ctc_weight=1.0)


def main():
    from bench_asr_conformer_ctc import an4_batch
    from kdspeech.config import read_yaml
    from kdspeech.distill.losses import build_loss_terms
    from kdspeech.models import build_model, count_parameters

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(REPO / "egs/TEMPLATE/asr/conf/cpu/train_asr_conformer_ctc.yaml"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    _, _, _, tokens, batch = an4_batch(args.batch)
    conf = read_yaml(args.config)
    model_conf = {**conf["model"]["conf"], "tokens": tokens}

    torch.manual_seed(0)
    ours = build_model(conf["model"]["name"], model_conf)
    theirs = espnet_model(model_conf, len(tokens) + 1)   # + ESPnet's <sos/eos>
    (_, _, ctc), = build_loss_terms(conf["loss"])
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-4)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-4)

    def step_ours():
        loss = ctc(ours(batch["input"], batch["input_len"]), batch, {})
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()

    def step_theirs():
        loss, _, _ = theirs(batch["input"], batch["input_len"], batch["target"], batch["target_len"])
        opt_theirs.zero_grad()
        loss.backward()
        opt_theirs.step()

    ours.train()
    theirs.train()
    times = {"kdspeech": [], "espnet": []}
    for i in range(args.steps + 1):   # the first pair is a warm-up
        for name, step in (("kdspeech", step_ours), ("espnet", step_theirs)):
            t0 = time.perf_counter()
            step()
            if i:
                times[name].append(time.perf_counter() - t0)
    audio = float(batch["input_len"].sum()) / 16000
    print(f"{args.config}: batch {len(batch['key'])} AN4 utterances ({audio:.1f} s), {torch.get_num_threads()} "
          f"thread(s), {args.steps} steps each after one warm-up, alternating")
    ours_m, theirs_m = (statistics.median(times[k]) for k in ("kdspeech", "espnet"))
    print(f"kdspeech conformer_ctc: {count_parameters(ours) / 1e6:.2f} M parameters, {ours_m:.3f} s/step (median)")
    print(f"ESPnet2 Conformer-CTC:  {count_parameters(theirs) / 1e6:.2f} M parameters, {theirs_m:.3f} s/step (median)")
    print(f"ratio kdspeech / ESPnet: {ours_m / theirs_m:.3f} (aim: at most 1.1)")


if __name__ == "__main__":
    main()
