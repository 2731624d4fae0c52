"""Make an enhancement mixture dir (noisy speech at given SNRs) from a clean and a noise data dir.

    python -m kdspeech.bin.mix_data_dir --clean data/clean --noise data/noise --out dump/mix \
        --snrs -5,0,5 [--mixtures_per_utt 1 | --num_mixtures N | --grid all|N] --seed 1 --sr 16000 \
        [--plan | --job k --nj N | --merge --nj N]

Two phases so that parallel jobs agree.  The plan (``<out>/plan.tsv``: mixture id, clean utterance,
noise id, noise start sample, SNR) depends only on the options and the two dirs; it is written
atomically by ``--plan`` or by whichever job finds it missing, and a plan made with other options is
an error rather than being mixed into the same dir.  Each job renders its slice of the plan:
``<out>/wav/{mix,spk1,noise1}/<id>.wav`` and pieces ``<out>/split/<scp>.<job>``; ``--merge`` writes
wav.scp (mixture), spk1.scp (clean), noise1.scp (scaled noise), utt2snr, utt2noise, utt2spk and
text.  SNRs and noises are drawn balanced (each as often as possible equally), offsets uniformly.
``--grid`` makes a balanced test grid instead (``kdspeech.data.mix_grid``): every noise recording at
every SNR, with every clean utterance (``all``) or N distinct ones per noise x SNR cell, seeded;
without it the plan and every output are what they were before the option existed.
Without --plan/--job/--merge everything runs in this process.  Audio at a rate other than --sr is
an error: resample first (kdspeech.bin.resample_data_dir).
"""

import argparse
import functools
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kdspeech.atomic import atomic_write_text
from kdspeech.cli import count_or_all, run_main
from kdspeech.data.audio import audio_info, is_complete_wav, load_audio, save_audio
from kdspeech.data.datadir import DataDir, merge_pieces, piece_path, read_kv, split_ids, write_kv
from kdspeech.data.mix import avoid_clipping, fit_length, mix_at_snr, plan_matches, random_offset
from kdspeech.data.mix_grid import grid_sources
from kdspeech.errors import KdError

OUTPUTS = {"wav.scp": "mix", "spk1.scp": "spk1", "noise1.scp": "noise1"}
COLUMNS = ("mix_id", "clean_utt", "noise_id", "noise_offset", "snr_db")


def parse_snrs(text):
    try:
        snrs = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise KdError(f"--snrs '{text}' is not a comma-separated list of numbers") from None
    if not snrs:
        raise KdError("--snrs is empty")
    return snrs


def snr_text(snr):
    return str(int(snr)) if float(snr).is_integer() else repr(float(snr))


def mixture_id(clean, noise, snr):
    tag = f"{int(snr):+03d}" if float(snr).is_integer() else f"{snr:+05.1f}"
    return f"{clean}__{noise}__snr{tag}"


def balanced(items, n, rng):
    """``n`` draws from ``items``, each used equally often (+-1), in random order."""
    reps = -(-n // len(items))
    return [items[i] for i in rng.permutation(np.tile(np.arange(len(items)), reps))[:n]]


def lengths_at_rate(data, sr, what):
    out = {}
    for utt, entry in tqdm(data.wav_scp.items(), desc=f"reading {what} headers", disable=None):
        frames, rate, channels = audio_info(entry, utt=utt)
        if rate != sr or channels != 1:
            raise KdError(f"{what} utterance '{utt}' is {channels}-channel at {rate} Hz, expected "
                          f"mono at --sr {sr} (resample first with kdspeech.bin.resample_data_dir)",
                          path=data.file("wav.scp"))
        out[utt] = frames
    return out


def make_plan(clean, noise, snrs, per_utt, num_mixtures, seed, sr, grid=None):
    """Rows ``(mix_id, clean_utt, noise_id, offset, snr)`` sorted by id, from the seed only
    (``grid``: ``'all'`` or N per noise x SNR cell, see ``kdspeech.data.mix_grid``)."""
    for data in (clean, noise):
        if data.has("segments"):
            raise KdError("segments are not supported here; extract the segments first",
                          path=data.path)
    clean_len = lengths_at_rate(clean, sr, "clean")
    noise_len = lengths_at_rate(noise, sr, "noise")
    rng = np.random.default_rng(seed)
    if grid is not None:
        triples = grid_sources(clean.utts, noise.utts, snrs, grid, rng)
    else:
        if num_mixtures is None:
            sources = [u for u in clean.utts for _ in range(per_utt)]
        else:
            sources = balanced(clean.utts, num_mixtures, rng)
        noises = balanced(noise.utts, len(sources), rng)
        snr_draws = balanced(snrs, len(sources), rng)
        triples = zip(sources, noises, snr_draws)
    rows, seen = [], set()
    for utt, nid, snr in triples:
        offset = random_offset(noise_len[nid], clean_len[utt], rng)
        base = mid = mixture_id(utt, nid, snr)
        k = 1
        while mid in seen:
            k += 1
            mid = f"{base}__{k}"
        seen.add(mid)
        rows.append((mid, utt, nid, offset, snr))
    return sorted(rows)


def options_line(args):
    return (f"# kdspeech mix plan: clean={Path(args.clean).resolve()}"
            f" noise={Path(args.noise).resolve()}"
            f" snrs={','.join(map(snr_text, args.snrs))} mixtures_per_utt={args.mixtures_per_utt}"
            f" num_mixtures={args.num_mixtures} seed={args.seed} sr={args.sr}"
            + (f" grid={args.grid}" if args.grid is not None else ""))


def read_plan(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != len(COLUMNS):
                raise KdError(f"expected {len(COLUMNS)} tab-separated fields", path=path,
                              line=lineno)
            rows.append((fields[0], fields[1], fields[2], int(fields[3]), float(fields[4])))
    return rows


def ensure_plan(args, clean, noise):
    """Read ``<out>/plan.tsv``, making it first if absent; a plan for other options is an error."""
    path = Path(args.out) / "plan.tsv"
    header = options_line(args)
    if plan_matches(path, header):
        return read_plan(path)
    rows = make_plan(clean, noise, args.snrs, args.mixtures_per_utt, args.num_mixtures, args.seed,
                     args.sr, args.grid)
    lines = [header + "\n# " + "\t".join(COLUMNS) + "\n"]
    lines += [f"{mid}\t{utt}\t{nid}\t{offset}\t{snr_text(snr)}\n" for mid, utt, nid, offset, snr in rows]
    atomic_write_text(path, "".join(lines))
    return rows


def render(rows, clean, noise, out, sr, job, nj, peak=0.99):
    """Write this job's mixtures and scp pieces."""
    load_noise = functools.lru_cache(maxsize=16)(
        lambda nid: load_audio(noise.wav_scp[nid], sr=sr, utt=nid)[0])
    pieces = {name: {} for name in OUTPUTS}
    for mid, utt, nid, offset, snr in tqdm(split_ids(rows, nj, job), desc=f"mix job {job}/{nj}",
                                            disable=None):
        paths = {name: Path(out) / "wav" / sub / f"{mid}.wav" for name, sub in OUTPUTS.items()}
        if not all(is_complete_wav(p, sr) for p in paths.values()):
            speech = load_audio(clean.wav_scp[utt], sr=sr, utt=utt)[0]
            try:
                segment = fit_length(load_noise(nid), len(speech), offset=offset)
                mixture, scaled = mix_at_snr(speech, segment, snr)
            except KdError as err:
                raise KdError(f"mixture '{mid}' (noise '{nid}' from sample {offset}): {err}",
                              path=Path(out) / "plan.tsv") from None
            signals, _ = avoid_clipping(mixture, speech, scaled, peak=peak)
            for name, x in zip(OUTPUTS, signals):
                save_audio(paths[name], x, sr)
        for name in OUTPUTS:
            pieces[name][mid] = str(paths[name])
    for name, piece in pieces.items():
        write_kv(piece_path(out, name, job), piece)


def merge(rows, clean, noise, out, nj):
    out = Path(out)
    for name in OUTPUTS:
        merge_pieces(out, name, nj, [r[0] for r in rows])
    noise_type = {nid: nid for nid in noise.utts}
    for name in ("utt2label", "utt2noise"):  # utt2noise wins over utt2label
        noise_type.update(read_kv(noise.file(name), allow_missing=True))
    utt2spk = read_kv(clean.file("utt2spk"), allow_missing=True)
    write_kv(out / "utt2snr", {r[0]: snr_text(r[4]) for r in rows})
    write_kv(out / "utt2noise", {r[0]: noise_type[r[2]] for r in rows})
    write_kv(out / "utt2spk", {r[0]: utt2spk.get(r[1], r[1]) for r in rows})
    if clean.has("text"):
        write_kv(out / "text", {r[0]: clean.read("text")[r[1]] for r in rows})
    return DataDir(out).validate()


def normalize_argv(argv):
    """Let ``--snrs -5,0,5`` through argparse (it would take ``-5,0,5`` for an option)."""
    out = []
    for arg in argv:
        if out and out[-1] == "--snrs" and arg.startswith("-"):
            out[-1] = f"--snrs={arg}"
        else:
            out.append(arg)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", required=True, help="clean speech data dir")
    parser.add_argument("--noise", required=True, help="noise data dir")
    parser.add_argument("--out", required=True, help="output mixture dir (dump/<name>)")
    parser.add_argument("--snrs", required=True, help="comma-separated SNRs in dB, e.g. -5,0,5")
    count = parser.add_mutually_exclusive_group()
    count.add_argument("--mixtures_per_utt", type=int, default=1,
                       help="mixtures per clean utterance")
    count.add_argument("--num_mixtures", type=int, help="total mixtures (clean utterances cycled)")
    count.add_argument("--grid", type=count_or_all, metavar="all|N",
                       help="a balanced grid: every noise at every SNR with every clean utterance (all) or "
                       "N distinct ones per noise x SNR cell (seeded)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sr", type=int, default=16000, help="required sample rate of both dirs")
    parser.add_argument("--peak", type=float, default=0.99, help="max |sample| after rescaling")
    parser.add_argument("--nj", type=int, default=1)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--plan", action="store_true", help="only write <out>/plan.tsv")
    mode.add_argument("--job", type=int, help="render job JOB of --nj")
    mode.add_argument("--merge", action="store_true", help="join the pieces of --nj jobs")
    args = parser.parse_args(normalize_argv(sys.argv[1:] if argv is None else list(argv)))
    args.snrs = parse_snrs(args.snrs)
    if args.num_mixtures is not None and args.num_mixtures < 1 or args.mixtures_per_utt < 1:
        parser.error("--num_mixtures and --mixtures_per_utt must be >= 1")
    clean, noise = DataDir(args.clean).validate(), DataDir(args.noise).validate()
    rows = ensure_plan(args, clean, noise)
    if args.plan:
        print(f"{Path(args.out) / 'plan.tsv'}: {len(rows)} mixtures")
        return 0
    if not args.merge:
        jobs = [args.job] if args.job is not None else range(1, args.nj + 1)
        for job in jobs:
            render(rows, clean, noise, args.out, args.sr, job, args.nj, args.peak)
    if args.merge or args.job is None:
        out = merge(rows, clean, noise, args.out, args.nj)
        print(f"{out.path}: {len(out.utts)} mixtures")
    return 0


if __name__ == "__main__":
    run_main(main)
