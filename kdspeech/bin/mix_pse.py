"""Write a fixed personalized-enhancement mixture set (validation or synthetic test) with the on-the-fly mixer.

    python -m kdspeech.bin.mix_pse --sources data/pse/valid --enroll data/pse/enroll \\
        --noises data/noise_valid [--interferers DIR] [--rirs DIR] --out dump/pse_valid \\
        --num_mixtures 500 [--duration 10] [--seed 1] [--sr 16000] [--conf conf/train_pse.yaml]

Mixture ``i`` is example ``(seed, epoch 0, i)`` of ``kdspeech.data.pse_mixer.PseMixer`` (the same
draws as ``data.on_the_fly`` with ``train=False``).  The mixing settings (categories, snr, sir,
rir_prob, early_ms, peak) come from ``--conf``: the ``data.on_the_fly`` block of a training config,
or a file holding just those keys; the directories always come from the command line (a validation
set mixes held-out files).  ``--interferers`` defaults to ``--sources``.

Outputs (``<out>``): ``wav/{mix,spk1}/<id>.wav`` (16-bit), and the data-dir files, written
atomically at the end: ``wav.scp`` (mixture), ``spk1.scp`` (target reference), ``utt2spk`` (target
speaker), ``utt2enroll`` (``<id> <audio entry>``: an utterance of the target speaker from
``--enroll``, chosen with the seed, never the target utterance; an enrolment dir with ``segments`` has
its segments written to ``wav/enroll/``), ``utt2snr`` (target against
everything else in the mixture, dB), ``utt2sir`` (the drawn SIR, ``nan`` without interferer),
``utt2category``; ``plan.tsv`` records every drawn parameter.  Resumable: a mixture whose line is in
``<out>/progress`` (appended after both its files are written) is not mixed again; a plan made with
other options is an error.  Progress is logged every 10 %.
"""

import argparse
import json
import logging
import math
from pathlib import Path

import numpy as np

from kdspeech.atomic import atomic_write_text
from kdspeech.cli import run_main
from kdspeech.config import read_yaml
from kdspeech.data.audio import is_complete_wav, save_audio
from kdspeech.data.datadir import DataDir, write_kv
from kdspeech.data.mix import plan_matches
from kdspeech.data.pse_mixer import DEFAULTS as MIXER_DEFAULTS
from kdspeech.errors import KdError
from kdspeech.tasks.pse_data import build_mixer

log = logging.getLogger("kdspeech.mix_pse")
FIELDS = ("category", "target", "speaker", "target_pos", "interferer", "interf_pos", "noise",
          "noise_pos", "snr", "sir", "rir_target", "rir_interf", "enroll")


def mixer_settings(path):
    """The mixing settings of ``--conf`` (``data.on_the_fly`` of a training config, or top level)."""
    if not path:
        return {}
    conf = read_yaml(path)
    block = (conf.get("data") or {}).get("on_the_fly") if "data" in conf else conf
    if not isinstance(block, dict):
        raise KdError("no data.on_the_fly mapping to take the mixing settings from", path=path)
    return {k: v for k, v in block.items() if k in MIXER_DEFAULTS}


def enrolment_choices(enroll, out_dir, sr):
    """``{speaker: [(utt, entry), ...]}`` of the enrolment dir.  A dir with ``segments`` (enrolment =
    a part of a recording) has its segments written to ``<out_dir>/wav/enroll/<utt>.wav`` so that
    utt2enroll names audio files."""
    if not enroll.has("utt2spk"):
        raise KdError("the enrolment dir needs utt2spk", path=enroll.file("utt2spk"))
    out = {}
    for utt, spk in enroll.read("utt2spk").items():
        if enroll.has("segments"):
            entry = Path(out_dir) / "wav" / "enroll" / f"{utt}.wav"
            if not is_complete_wav(entry, sr):
                save_audio(entry, enroll.load_audio(utt, sr=sr)[0], sr)
            entry = str(entry)
        else:
            entry = enroll.wav_scp[utt]
        out.setdefault(spk, []).append((utt, entry))
    return out


def pick_enrolment(choices, p, sources, enroll, seed, index):
    """An enrolment entry of the target speaker other than the target utterance itself."""
    target_entry = sources.wav_scp.get(p["target"]) if not sources.has("segments") else None
    same_file = (lambda e: Path(e).resolve() == Path(target_entry).resolve()) if target_entry else (lambda e: False)
    usable = [(u, e) for u, e in choices.get(p["speaker"], []) if u != p["target"] and not same_file(e)]
    if not usable:
        raise KdError(f"target speaker '{p['speaker']}' (utterance '{p['target']}') has no enrolment "
                      "utterance other than the target", path=enroll.file("utt2spk"))
    return usable[int(np.random.default_rng([seed, index, 2]).integers(len(usable)))][1]


def value(x):
    if x is None:
        return "-"
    return repr(round(float(x), 6)) if isinstance(x, (float, np.floating)) else str(x)


def make_plan(args, mixer, sources, enroll):
    choices = enrolment_choices(enroll, args.out, args.sr)
    rows = {}
    for i in range(args.num_mixtures):
        p = mixer.draw(args.seed, 0, i)
        p["enroll"] = pick_enrolment(choices, p, sources, enroll, args.seed, i)
        rows[f"{p['target']}__pse{i:06d}"] = p
    return rows


def write_plan(path, header, rows):
    if plan_matches(path, header):
        return
    lines = [header + "\n", "# mix_id\t" + "\t".join(FIELDS) + "\n"]
    lines += [mid + "\t" + "\t".join(value(p[k]) for k in FIELDS) + "\n" for mid, p in rows.items()]
    atomic_write_text(path, "".join(lines))


def read_progress(path):
    done = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            try:                   # a line cut by a crash does not parse: that mixture is redone
                done[fields[0]] = float(fields[1]) if len(fields) == 3 and float(fields[2]) > 0 else None
            except ValueError:
                pass
    done = {k: v for k, v in done.items() if v is not None}
    return done


def render(rows, mixer, out, sr):
    """Mix every row not in ``<out>/progress``; ``{id: input_snr}`` of all rows."""
    progress = out / "progress"
    done = read_progress(progress)
    step = max(1, len(rows) // 10)
    with open(progress, "a", encoding="utf-8") as log_file:
        if progress.stat().st_size and not progress.read_bytes().endswith(b"\n"):
            log_file.write("\n")   # end the line a crash cut, so the next one starts clean
        for k, (mid, p) in enumerate(rows.items(), start=1):
            paths = [out / "wav" / sub / f"{mid}.wav" for sub in ("mix", "spk1")]
            if not (mid in done and all(is_complete_wav(q, sr) for q in paths)):
                ex = mixer.render(p)
                save_audio(paths[0], ex.mixture, sr)
                save_audio(paths[1], ex.target, sr)
                done[mid] = ex.params["input_snr"]
                log_file.write(f"{mid} {done[mid]!r} {ex.params['gain']!r}\n")
                log_file.flush()
            if k % step == 0 or k == len(rows):
                log.info("%d/%d mixtures", k, len(rows))
    return done


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", required=True, help="target speech data dir (wav.scp, utt2spk)")
    parser.add_argument("--enroll", required=True, help="enrolment data dir (wav.scp, utt2spk)")
    parser.add_argument("--interferers", help="interfering speech data dir (default: --sources)")
    parser.add_argument("--noises", help="noise data dir (needed when a category has noise)")
    parser.add_argument("--rirs", help="room impulse response data dir (default: no reverberation)")
    parser.add_argument("--out", required=True, help="output mixture dir")
    parser.add_argument("--num_mixtures", type=int, required=True)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per mixture")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sr", type=int, default=16000)
    parser.add_argument("--conf", help="YAML with the mixing settings (data.on_the_fly or top level)")
    args = parser.parse_args(argv)
    if args.num_mixtures < 1 or args.duration <= 0:
        parser.error("--num_mixtures must be >= 1 and --duration > 0")
    settings = mixer_settings(args.conf)
    conf = {**settings, "interferers": args.interferers, "noises": args.noises, "rirs": args.rirs}
    segment = int(round(args.duration * args.sr))
    mixer = build_mixer(args.sources, conf, segment, args.sr, where=args.conf)
    sources, enroll = DataDir(args.sources), DataDir(args.enroll).validate()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = "# kdspeech pse plan: " + json.dumps(
        {"sources": str(Path(args.sources).resolve()), "enroll": str(Path(args.enroll).resolve()),
         **{k: str(Path(v).resolve()) if v else None for k, v in conf.items() if k in ("interferers", "noises", "rirs")},
         "settings": mixer.opts, "num_mixtures": args.num_mixtures, "segment": segment,
         "seed": args.seed, "sr": args.sr}, sort_keys=True)
    rows = make_plan(args, mixer, sources, enroll)
    write_plan(out / "plan.tsv", header, rows)
    snr = render(rows, mixer, out, args.sr)
    files = {
        "wav.scp": {m: str(out / "wav" / "mix" / f"{m}.wav") for m in rows},
        "spk1.scp": {m: str(out / "wav" / "spk1" / f"{m}.wav") for m in rows},
        "utt2spk": {m: p["speaker"] for m, p in rows.items()},
        "utt2enroll": {m: p["enroll"] for m, p in rows.items()},
        "utt2snr": {m: value(snr[m]) for m in rows},
        "utt2sir": {m: "nan" if math.isnan(p["sir"]) else value(p["sir"]) for m, p in rows.items()},
        "utt2category": {m: p["category"] for m, p in rows.items()},
    }
    for name, table in files.items():
        write_kv(out / name, table)
    data = DataDir(out).validate()
    print(f"{data.path}: {len(data.utts)} mixtures")
    return 0


if __name__ == "__main__":
    run_main(main)
