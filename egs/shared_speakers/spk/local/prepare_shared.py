#!/usr/bin/env python3
"""Speaker-disjoint train / valid / test data dirs and trial lists from the shared corpora subsets.

    local/prepare_shared.py --librispeech L --speech_commands S --an4 A --out data [options]

- test  (unseen speakers, also the t-SNE set): LibriSpeech test-other, ``--test_speakers`` speakers
  (sorted ids, first N) x ``--test_per_speaker`` utterances (sorted, first N).
- valid (model selection): ``--valid_speakers`` Speech Commands speakers, those with at least
  ``2 * --group`` clips taken in the order of sha1(speaker id) (a fixed, content-free shuffle).
- train: every LibriSpeech train-clean-100 speaker (one utterance each; ``--max_train_ls`` caps),
  the other Speech Commands speakers and the AN4 speakers.
Speech Commands clips are 1 s: each speaker's clips (sorted, all words pooled) are joined in groups of
``--group`` into one utterance (a sox pipe in wav.scp) so that a 3 s crop holds speech, not padding.
Speaker ids are prefixed by corpus (``ls-``, ``sc-``, ``an4-``); the sets share no speaker (checked).

Trial lists are made by ``local/data.sh`` with ``python -m kdspeech.bin.make_trials``.
"""

import argparse
import hashlib
import sys
from pathlib import Path


def fail(message, path=None):
    where = f"{path}: " if path else ""
    sys.exit(f"{sys.argv[0]} (stage 1, data preparation): ERROR: {where}{message}")


def librispeech(root, subset):
    base = Path(root) / "LibriSpeech" / subset
    if not base.is_dir():
        fail(f"LibriSpeech subset {subset} not found (set LIBRISPEECH in db.sh)", base)
    out = {}
    for f in sorted(base.glob("*/*/*.flac")):
        out.setdefault("ls-" + f.parent.parent.name, []).append((f.stem, str(f.resolve())))
    if not out:
        fail("no .flac files", base)
    return out


def speech_commands(root):
    base = Path(root)
    if not base.is_dir():
        fail("Speech Commands folder not found (set SPEECH_COMMANDS in db.sh)", base)
    out = {}
    for f in sorted(base.glob("*/*_nohash_*.flac")):
        if f.parent.name.startswith("_"):
            continue
        spk = f.name.split("_nohash_")[0]
        out.setdefault("sc-" + spk, []).append(f"{f.parent.name}-{f.stem}")
        out.setdefault("@" + "sc-" + spk, []).append(str(f.resolve()))
    return out


def an4(root):
    base = Path(root)
    try:
        utt2spk = dict(line.split() for line in (base / "utt2spk").read_text().splitlines() if line.strip())
        wavs = dict(line.split() for line in (base / "wav.list").read_text().splitlines() if line.strip())
    except (OSError, ValueError) as err:
        fail(f"cannot read AN4 utt2spk/wav.list ({err}; set AN4 in db.sh)", base)
    out = {}
    for utt in sorted(utt2spk):
        if utt not in wavs:
            fail(f"utterance {utt} has no line in wav.list", base / "wav.list")
        out.setdefault("an4-" + utt2spk[utt], []).append((utt, str((base / wavs[utt]).resolve())))
    return out


def grouped(spk, names, paths, group):
    """Utterances of ``group`` clips each: (utt id, wav.scp value)."""
    items = sorted(zip(names, paths), key=lambda x: x[1])
    utts = []
    for i in range(0, len(items) - group + 1, group):
        chunk = [p for _, p in items[i:i + group]]
        utts.append((f"{spk}-g{i // group:03d}", "sox " + " ".join(chunk) + " -t wav - |"))
    return utts


def write_dir(out, utts):
    """``utts``: {spk: [(utt id, wav value)]}; utterance ids are prefixed by the speaker (Kaldi)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = sorted((u if u.startswith(spk) else f"{spk}-{u}", wav, spk) for spk, items in utts.items()
                  for u, wav in items)
    (out / "wav.scp").write_text("".join(f"{u} {w}\n" for u, w, _ in rows))
    (out / "utt2spk").write_text("".join(f"{u} {s}\n" for u, _, s in rows))
    spk2utt = {}
    for u, _, s in rows:
        spk2utt.setdefault(s, []).append(u)
    (out / "spk2utt").write_text("".join(f"{s} {' '.join(us)}\n" for s, us in sorted(spk2utt.items())))
    return [(u, s) for u, _, s in rows]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--librispeech", required=True)
    p.add_argument("--speech_commands", required=True)
    p.add_argument("--an4", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--test_speakers", type=int, default=10)
    p.add_argument("--test_per_speaker", type=int, default=10)
    p.add_argument("--valid_speakers", type=int, default=12)
    p.add_argument("--valid_per_speaker", type=int, default=6, help="grouped utterances per valid speaker (cap)")
    p.add_argument("--group", type=int, default=3, help="Speech Commands clips per utterance")
    p.add_argument("--max_train_ls", type=int, default=0, help="cap on train-clean-100 speakers (0: all)")
    p.add_argument("--max_train_sc", type=int, default=0, help="cap on Speech Commands train speakers (0: all)")
    p.add_argument("--use_an4", default="true", choices=("true", "false"))
    args = p.parse_args()
    out = Path(args.out)

    test_all = librispeech(args.librispeech, "test-other")
    test = {s: test_all[s][:args.test_per_speaker] for s in sorted(test_all)[:args.test_speakers]}
    sc = speech_commands(args.speech_commands)
    sc_utts = {s: grouped(s, sc[s], sc["@" + s], args.group) for s in sc if not s.startswith("@")}
    sc_utts = {s: u for s, u in sc_utts.items() if u}
    order = sorted(sc_utts, key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    valid_spk = [s for s in order if len(sc_utts[s]) >= 2][:args.valid_speakers]
    valid = {s: sc_utts[s][:args.valid_per_speaker] for s in valid_spk}
    train_sc = [s for s in order if s not in valid_spk]
    if args.max_train_sc:
        train_sc = train_sc[:args.max_train_sc]
    train = {s: sc_utts[s] for s in train_sc}
    ls = librispeech(args.librispeech, "train-clean-100")
    for s in sorted(ls)[:args.max_train_ls or None]:
        train[s] = ls[s]
    if args.use_an4 == "true":
        train.update(an4(args.an4))
    sets = {"train": train, "valid": valid, "test": test}
    for a in sets:
        for b in sets:
            common = set(sets[a]) & set(sets[b]) if a < b else set()
            if common:
                fail(f"speakers in both {a} and {b}: {sorted(common)[:3]}")
    for name, utts in sets.items():
        rows = write_dir(out / name, utts)
        print(f"{name}: {len(utts)} speakers, {len(rows)} utterances", file=sys.stderr)


if __name__ == "__main__":
    main()
