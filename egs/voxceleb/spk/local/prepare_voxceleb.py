#!/usr/bin/env python3
"""Kaldi data dirs of VoxCeleb1/2 for speaker-embedding distillation (no download: both corpora are
registration-only; point db.sh at your copies).

    local/prepare_voxceleb.py --vox1 V1 --vox2 V2 --trials V1/veri_test2.txt --out data [options]

Layouts read (the official ones):
- VoxCeleb1: ``<vox1>/wav/<speaker id>/<YouTube id>/<nnnnn>.wav`` (dev and test extracted into one
  ``wav/``, or ``<vox1>/vox1_dev_wav/wav`` and ``<vox1>/vox1_test_wav/wav``);
- VoxCeleb2 dev: ``<vox2>/dev/aac/<speaker id>/<YouTube id>/<nnnnn>.m4a`` (as distributed: read
  through ``ffmpeg`` in wav.scp) or the same tree converted to ``.wav`` (``<vox2>/dev/wav`` or
  ``<vox2>/wav``);
- the trial list ``veri_test2.txt`` (VoxCeleb1-O, cleaned): ``<1|0> <spk>/<yt>/<n>.wav <spk>/<yt>/<n>.wav``.

Utterance ids are the relative paths without extension, '/' -> '-' (``id10270-x6uYqmx31kE-00001``).

- ``test``: the utterances of the trial list (VoxCeleb1-O), ``trials`` in its own VoxCeleb layout
  with these ids.  A trial naming a file that is not in the tree is an error naming the trial line.
- ``train`` / ``valid``: the development speakers of ``--train_sets`` (``vox2``: VoxCeleb2 dev, the
  paper's; ``vox1``: VoxCeleb1 speakers not in the trial list), ``--valid_percent`` (5) % of them
  held out for validation, taken in the order of sha1(speaker id) (a fixed, content-free shuffle).
  ``valid/trials``: for each of ``--valid_utts`` utterances per held-out speaker (sorted, first N),
  every same-speaker pair, and ``--valid_nontarget`` non-target pairs per utterance drawn with
  ``--seed``.
- ``tsne``: up to 10 utterances of the first ``--tsne_speakers`` test speakers (unseen in training).
"""

import argparse
import hashlib
import random
import sys
from pathlib import Path


def fail(message, path=None, line=None):
    where = f"{path}{':' + str(line) if line else ''}: " if path else ""
    sys.exit(f"{sys.argv[0]} (stage 1, data preparation): ERROR: {where}{message}")


def utt_id(rel):
    return str(Path(rel).with_suffix("")).replace("/", "-")


def scan(roots, exts):
    """{relative path 'spk/yt/n.ext': absolute path} over the first existing roots."""
    files = {}
    for root in roots:
        if root.is_dir():
            for ext in exts:
                for f in root.glob(f"id*/*/*.{ext}"):
                    files.setdefault(str(f.relative_to(root)), f.resolve())
    return files


def wav_value(path):
    if path.suffix == ".wav":
        return str(path)
    return f"ffmpeg -nostdin -loglevel error -i {path} -ac 1 -f wav - |"


def write_dir(out, items):
    """``items``: {utt: (spk, wav value)}."""
    out.mkdir(parents=True, exist_ok=True)
    utts = sorted(items)
    (out / "wav.scp").write_text("".join(f"{u} {items[u][1]}\n" for u in utts))
    (out / "utt2spk").write_text("".join(f"{u} {items[u][0]}\n" for u in utts))
    spk2utt = {}
    for u in utts:
        spk2utt.setdefault(items[u][0], []).append(u)
    (out / "spk2utt").write_text("".join(f"{s} {' '.join(v)}\n" for s, v in sorted(spk2utt.items())))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vox1", required=True)
    p.add_argument("--vox2", default="")
    p.add_argument("--trials", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--train_sets", default="vox2", help="space-separated: vox2 vox1")
    p.add_argument("--valid_percent", type=float, default=5.0)
    p.add_argument("--valid_utts", type=int, default=4)
    p.add_argument("--valid_nontarget", type=int, default=3)
    p.add_argument("--tsne_speakers", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    out = Path(args.out)
    vox1 = Path(args.vox1)
    v1 = scan([vox1 / "wav", vox1 / "vox1_dev_wav" / "wav", vox1 / "vox1_test_wav" / "wav"], ["wav"])
    if not v1:
        fail("no VoxCeleb1 files <spk>/<yt>/<n>.wav under wav/ (or vox1_{dev,test}_wav/wav/)", vox1)

    # Test: VoxCeleb1-O.
    test, lines = {}, []
    try:
        text = Path(args.trials).read_text().splitlines()
    except OSError as err:
        fail(f"cannot read the trial list ({err}; set VOX1_TRIALS in db.sh)", args.trials)
    for number, line in enumerate(text, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            fail("expected '<1|0> <spk>/<yt>/<n>.wav <spk>/<yt>/<n>.wav'", args.trials, number)
        for rel in fields[1:]:
            if rel not in v1:
                fail(f"trial names {rel}, which is not in the VoxCeleb1 tree {vox1}", args.trials, number)
            test[utt_id(rel)] = (rel.split("/")[0], str(v1[rel]))
        lines.append(f"{fields[0]} {utt_id(fields[1])} {utt_id(fields[2])}\n")
    if not lines:
        fail("no trials", args.trials)
    write_dir(out / "test", test)
    (out / "test" / "trials").write_text("".join(lines))
    test_spk = sorted({s for s, _ in test.values()})

    # Development speakers.
    dev = {}
    sets = args.train_sets.split()
    if "vox2" in sets:
        vox2 = Path(args.vox2)
        v2 = scan([vox2 / "dev" / "aac", vox2 / "dev" / "wav", vox2 / "wav", vox2 / "aac"], ["m4a", "wav"])
        if not v2:
            fail("no VoxCeleb2 dev files <spk>/<yt>/<n>.m4a|wav under dev/aac, dev/wav, wav or aac "
                 "(set VOX2 in db.sh, or --train_sets vox1)", vox2)
        for rel, path in v2.items():
            dev[utt_id(rel)] = (rel.split("/")[0], wav_value(path))
    if "vox1" in sets:
        for rel, path in v1.items():
            if rel.split("/")[0] not in test_spk:
                dev[utt_id(rel)] = (rel.split("/")[0], wav_value(path))
    unknown = set(sets) - {"vox1", "vox2"}
    if unknown or not dev:
        fail(f"--train_sets '{args.train_sets}': give vox2 and/or vox1 with files present")
    overlap = {s for s, _ in dev.values()} & set(test_spk)
    if overlap:
        fail(f"development speakers also in the test trials: {sorted(overlap)[:3]}")
    speakers = sorted({s for s, _ in dev.values()}, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    n_valid = max(1, round(len(speakers) * args.valid_percent / 100))
    if n_valid >= len(speakers):
        fail(f"{len(speakers)} development speakers: too few to hold {args.valid_percent} % out")
    valid_spk = set(speakers[:n_valid])
    write_dir(out / "train", {u: v for u, v in dev.items() if v[0] not in valid_spk})
    by_spk = {}
    for u in sorted(dev):
        if dev[u][0] in valid_spk:
            by_spk.setdefault(dev[u][0], []).append(u)
    valid = {u: dev[u] for us in by_spk.values() for u in us[:args.valid_utts]}
    write_dir(out / "valid", valid)
    rng = random.Random(args.seed)
    utts = sorted(valid)
    trials = set()
    for i, a in enumerate(utts):
        for b in utts[i + 1:]:
            if valid[a][0] == valid[b][0]:
                trials.add((a, b, "target"))
        others = [b for b in utts if valid[b][0] != valid[a][0]]
        for b in rng.sample(others, min(args.valid_nontarget, len(others))):
            trials.add((min(a, b), max(a, b), "nontarget"))
    if not any(t[2] == "target" for t in trials):
        fail("no held-out speaker has two utterances: no target trials for validation")
    (out / "valid" / "trials").write_text("".join(f"{a} {b} {t}\n" for a, b, t in sorted(trials)))

    tsne_spk = set(test_spk[:args.tsne_speakers])
    tsne, count = {}, {}
    for u in sorted(test):
        s = test[u][0]
        if s in tsne_spk and count.get(s, 0) < 10:
            tsne[u] = test[u]
            count[s] = count.get(s, 0) + 1
    write_dir(out / "tsne", tsne)
    for name in ("train", "valid", "test", "tsne"):
        n = len((out / name / "wav.scp").read_text().splitlines())
        print(f"{name}: {n} utterances", file=sys.stderr)


if __name__ == "__main__":
    main()
