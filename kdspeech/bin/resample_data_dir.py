"""Resample the audio of a data dir to WAV files at one sample rate, in parallel jobs.

    python -m kdspeech.bin.resample_data_dir --src data/x --dst dump/x --sr 16000 --job 2 --nj 4
    python -m kdspeech.bin.resample_data_dir --src data/x --dst dump/x --merge --nj 4
    python -m kdspeech.bin.resample_data_dir --src data/x --dst dump/x --sr 16000   # all + merge

A job converts its slice of wav.scp (and of spk1.scp / noise1.scp when present) to
``<dst>/wav/<scp>/<utt>.wav`` and writes ``<dst>/split/<scp>.<job>``.  ``--merge`` joins the pieces
into ``<dst>/<scp>`` and copies the other files of the source dir unchanged (minus files whose
values depend on the sample rate).  A WAV already present at the right rate is kept, so a killed
job can simply be run again.  The files of one utterance share one scale factor when resampling
overshoots full scale, so mixture = clean + noise still holds.  With ``segments``, whole recordings
are converted (wav.scp is keyed by recording) and ``segments`` is copied.

Each job also records the source rate of every entry (``split/rate.<scp>.<job>``); ``--merge`` warns
when they are not all one rate, naming the odd files and their rates, and ``--strict_rate true``
makes that an error (nothing is merged).
"""

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from kdspeech.cli import run_main
from kdspeech.data.audio import audio_info, is_complete_wav, load_audio, save_audio
from kdspeech.data.datadir import (AUDIO_SCPS, DataDir, copy_file, merge_pieces, piece_path,
                                   read_kv, split_ids, write_kv)
from kdspeech.data.mix import avoid_clipping
from kdspeech.data.resample import QUALITIES, check_source_rates, resample
from kdspeech.errors import KdError

#: Files that would be wrong after resampling; not copied by --merge.
RATE_DEPENDENT = ("utt2num_samples", "feats.scp", "utt2num_frames", "frame_shift", "cmvn.scp")


def wav_path(dst, scp, utt):
    if "/" in utt:
        raise KdError(f"utterance id '{utt}' contains '/', which cannot name a file")
    return Path(dst) / "wav" / scp.replace(".scp", "") / f"{utt}.wav"


def present_scps(src):
    return [name for name in AUDIO_SCPS if src.has(name)]


def audio_ids(scps):
    """Every id of the audio scps, sorted: recordings of wav.scp, utterances of spk1/noise1.scp
    (the same ids unless the dir has segments)."""
    return sorted(set().union(*map(set, scps.values())))


def run_job(src, dst, sr, job, nj, backend="soxr", quality="HQ"):
    """Convert this job's entries; returns the number that had to be scaled to avoid clipping."""
    scps = {name: src.read(name) for name in present_scps(src)}
    pieces = {name: {} for name in scps}
    rates = {name: {} for name in scps}
    scaled = 0
    for utt in tqdm(split_ids(audio_ids(scps), nj, job), desc=f"resample job {job}/{nj}",
                    disable=None):
        targets = {name: wav_path(dst, name, utt) for name in scps if utt in scps[name]}
        if not all(is_complete_wav(path, sr) for path in targets.values()):
            signals = []
            for name in targets:
                x, rate = load_audio(scps[name][utt], utt=utt)
                rates[name][utt] = rate
                signals.append(resample(x, rate, sr, quality=quality, backend=backend))
            signals, factor = avoid_clipping(*signals, peak=1.0)
            scaled += factor < 1.0
            for path, x in zip(targets.values(), signals):
                save_audio(path, x, sr)
        else:   # converted by an earlier, killed run: the source's header still tells its rate
            for name in targets:
                rates[name][utt] = audio_info(scps[name][utt], utt=utt)[1]
        for name, path in targets.items():
            pieces[name][utt] = str(path)
    for name, piece in pieces.items():
        write_kv(piece_path(dst, f"rate.{name}", job), rates[name])
        write_kv(piece_path(dst, name, job), piece)
    if scaled:
        logging.warning("job %d: %d utterance(s) scaled down: resampling overshot full scale",
                        job, scaled)
    return scaled


def source_rates(dst, name, nj):
    """The source rate of every entry of scp ``name``, from the pieces of the ``nj`` jobs."""
    rates = {}
    for job in range(1, nj + 1):
        piece = piece_path(dst, f"rate.{name}", job)
        if not piece.is_file():
            raise KdError(f"piece of job {job} of {nj} is missing (did the job finish?)", path=piece)
        rates.update({utt: int(rate) for utt, rate in read_kv(piece).items()})
    return rates


def merge(src, dst, nj, strict_rate=False):
    """Check the source rates, join the job pieces into ``dst`` and copy the source's other
    files; validates the result."""
    dst = Path(dst)
    for name in present_scps(src):
        check_source_rates(source_rates(dst, name, nj), src.read(name), strict=strict_rate,
                           path=src.file(name), what="resampled to the output rate")
    for name in present_scps(src):
        merge_pieces(dst, name, nj, src.read(name))
    for path in sorted(src.path.iterdir()):
        if path.is_file() and path.name not in AUDIO_SCPS + RATE_DEPENDENT:
            copy_file(path, dst / path.name)
    return DataDir(dst).validate()


def true_false(text):
    if text not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")
    return text == "true"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True, help="source data dir")
    parser.add_argument("--dst", required=True, help="output dir (dump/<name>)")
    parser.add_argument("--sr", type=int, help="output sample rate (not needed with --merge)")
    parser.add_argument("--job", type=int, help="1-based job index; default: all jobs, then merge")
    parser.add_argument("--nj", type=int, default=1, help="number of jobs")
    parser.add_argument("--merge", action="store_true", help="join the pieces of --nj jobs")
    parser.add_argument("--backend", default="soxr", choices=["soxr", "sox"])
    parser.add_argument("--quality", default="HQ", choices=QUALITIES)
    parser.add_argument("--strict_rate", type=true_false, default=False, metavar="true|false",
                        help="fail when the source audio is not all at one sample rate "
                             "(default false: warn, naming the odd files, and resample them)")
    args = parser.parse_args(argv)
    src = DataDir(args.src).validate()
    if args.merge:
        out = merge(src, args.dst, args.nj, args.strict_rate)
        print(f"{out.path}: {len(out.utts)} utterances")
        return 0
    if args.sr is None:
        parser.error("--sr is required unless --merge")
    jobs = [args.job] if args.job is not None else range(1, args.nj + 1)
    for job in jobs:
        run_job(src, args.dst, args.sr, job, args.nj, args.backend, args.quality)
    if args.job is None:
        out = merge(src, args.dst, args.nj, args.strict_rate)
        print(f"{out.path}: {len(out.utts)} utterances")
    return 0


if __name__ == "__main__":
    run_main(main)
