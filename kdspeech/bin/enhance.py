"""Enhance every mixture of a data dir with a trained model; parallel over jobs and resumable.

    python -m kdspeech.bin.enhance --model exp/student_s2 --data dump/mix/test_seen \\
        --out_dir exp/student_s2/enhanced_test_seen --job 1 --nj 4
    python -m kdspeech.bin.enhance --out_dir exp/student_s2/enhanced_test_seen --merge --nj 4

A job writes ``out_dir/wav/<key>/<utt>.wav`` for its slice of the sorted utterances (each file
atomically; files already there are kept, so a killed job resumes) and ``out_dir/split/wav.scp.<job>``;
``--merge`` joins the pieces into ``out_dir/wav.scp``, checks that no utterance is missing and sets
aside the audio of other keys.  The key (``kdspeech.resume``) covers what makes the audio: the model
file's content, ``--sr``, ``--model_conf``, the ``--enroll_emb`` table, the mixtures' ``wav.scp`` and,
under a recipe stage, the fingerprints of its inputs; so a retrained model, another option or re-made
mixtures are enhanced afresh, never resumed from the old files.

``--output wav`` writes a named output instead of the primary one (the enhanced speech of a joint front
end + recogniser, ``se_asr``, whose primary output is the recogniser's).

Personalized models (``forward(mix, enroll_emb)``, kdspeech.models.calling decides by the parameter
names) get ``--enroll_emb table.npz``: speaker embeddings (``keys``, ``emb``, as written by
``kdspeech.bin.embed``) keyed by utterance or by speaker through the data dir's ``utt2spk``.  A model
that takes the enrolment audio itself (``enroll``) gets the whole clip named in ``utt2enroll``.  A
test utterance without a speaker or an embedding is a KdError naming the file, before anything runs.
"""

import argparse
import logging
import sys
from pathlib import Path

from kdspeech.cli import run_main
from kdspeech.data.datadir import DataDir, merge_pieces, piece_path, split_ids, write_kv
from kdspeech.errors import KdError
from kdspeech.resume import file_digest, keyed_folder, output_key, set_aside_others

log = logging.getLogger("kdspeech.enhance")


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="exp dir (its best.pth or model.zip), model file or "
                   "pretrained:<name>[:<file>] (kdspeech.packing.pretrained)")
    p.add_argument("--data", help="mixture data dir (wav.scp)")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--sr", type=int, default=16000, help="sample rate the model expects")
    p.add_argument("--job", type=int, default=1)
    p.add_argument("--nj", type=int, default=1)
    p.add_argument("--merge", action="store_true", help="join the job pieces into wav.scp")
    p.add_argument("--enroll_emb", help="enrolment embeddings (.npz with keys, emb) keyed by utterance or "
                   "speaker (utt2spk), for personalized models")
    p.add_argument("--model_conf", nargs="+", default=[], metavar="KEY=VALUE",
                   help="constructor options of --model changed at inference (same weights), e.g. alpha=2 "
                   "(pse_refine's similarity scale)")
    p.add_argument("--output", default=None, help="the model output to write (default: its primary one), "
                   "e.g. wav for the enhanced speech inside a joint front end + recogniser (se_asr)")
    p.add_argument("--num_threads", type=int, default=1, help="torch threads per job")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="where the model runs (auto: a GPU when one is visible)")
    return p


class Enrolment:
    """The enrolment inputs of a personalized model for each utterance (``{}`` for a plain model)."""

    def __init__(self, model, data, utts, table, sr, device):
        from kdspeech.models.calling import input_names, takes_input

        names = [n for n in input_names(model)[1:] if takes_input(model, n)]
        self.device, self.sr, self.data = device, sr, data
        self.emb = self.audio = None
        kind = type(getattr(model, "module", model)).__name__
        if "enroll_emb" in names:
            if not table:
                raise KdError(f"{kind}.forward takes enroll_emb (a personalized model): give --enroll_emb table.npz")
            self.emb = embeddings(table, data, utts)
        elif table:
            raise KdError(f"--enroll_emb given but {kind}.forward takes no enroll_emb "
                          f"(its inputs: {', '.join(input_names(model))})", path=table)
        if "enroll" in names:
            if not data.has("utt2enroll"):
                raise KdError(f"{kind}.forward takes enroll (enrolment audio): the data dir needs utt2enroll",
                              path=data.file("utt2enroll"))
            self.audio = data.read("utt2enroll")
            missing = [u for u in utts if u not in self.audio]
            if missing:
                raise KdError(f"utterance {missing[0]} has no enrolment audio", path=data.file("utt2enroll"))

    def __call__(self, utt):
        import torch

        from kdspeech.data.audio import load_audio

        extra = {}
        if self.emb is not None:
            extra["enroll_emb"] = self.emb[utt][None].to(self.device)
        if self.audio is not None:
            wav, _ = load_audio(self.audio[utt], sr=self.sr, utt=f"{utt} (enrolment)")
            extra["enroll"] = torch.from_numpy(wav)[None].to(self.device)
        return extra


def embeddings(table, data, utts):
    """``{utt: tensor [D]}`` of ``utts`` from an embedding table keyed by utterance or speaker."""
    import numpy as np

    from kdspeech.tasks.enhancement import read_embedding_table

    try:
        keys = {str(k) for k in np.load(table)["keys"]}
    except (OSError, KeyError, ValueError) as err:
        raise KdError(f"not an embedding table with 'keys' and 'emb' ({err})", path=table) from None
    spk = data.read("utt2spk") if data.has("utt2spk") else {}
    no_speaker = [u for u in utts if u not in keys and u not in spk]
    if no_speaker:
        raise KdError(f"utterance {no_speaker[0]} has no embedding in {table} and no speaker entry "
                      f"({len(no_speaker)} such utterance(s))", path=data.file("utt2spk"))
    return read_embedding_table(table, data, utts)


def enhance_job(args):
    import numpy as np
    import torch
    from tqdm import tqdm

    from kdspeech.data.audio import is_complete_wav, save_audio
    from kdspeech.train.checkpoint import load_model
    from kdspeech.train.distributed import pick_device

    torch.set_num_threads(args.num_threads)
    data = DataDir(args.data)
    utts = split_ids(data.utts, args.nj, args.job)
    device = pick_device(args.device)
    model = load_model(args.model, device=device, conf_overrides=args.model_conf)
    enrolment = Enrolment(model, data, utts, args.enroll_emb, args.sr, device)
    out_dir = Path(args.out_dir)
    folder = keyed_folder(out_dir / "wav", audio_key(args, data))
    piece = {}
    for utt in tqdm(utts, desc=f"enhance job {args.job}", disable=not sys.stderr.isatty()):
        path = folder / f"{utt}.wav"
        if not is_complete_wav(path, args.sr):
            noisy, _ = data.load_audio(utt, sr=args.sr)
            with torch.no_grad():
                est = model_output(model, torch.from_numpy(noisy)[None].to(device), args.output, **enrolment(utt))
                est = est[0].cpu().numpy()
            save_audio(path, est.astype(np.float32), args.sr)
        piece[utt] = str(path.resolve())
    write_kv(piece_path(out_dir, "wav.scp", args.job), piece)
    log.info("job %d/%d: %d utterances enhanced into %s", args.job, args.nj, len(utts), out_dir / "wav")


def model_output(model, x, output=None, **extra):
    """The primary output of ``model`` on ``x``, or its output named ``output`` (a KdError naming the
    outputs there are when it has none of that name)."""
    from kdspeech.models.calling import MAIN_INPUT, call_model, primary

    outputs = call_model(model, {MAIN_INPUT: x, **extra})
    if output is None:
        return primary(outputs)
    if output not in outputs:
        raise KdError(f"--output {output}: {type(getattr(model, 'module', model)).__name__} has the outputs "
                      f"{', '.join(outputs)}")
    return outputs[output]


def audio_key(args, data):
    """The key of the enhanced audio: what makes it (``kdspeech.resume``)."""
    from kdspeech.train.checkpoint import model_digest

    return output_key(model=model_digest(args.model), sr=args.sr,
                      model_conf=list(args.model_conf), enroll_emb=file_digest(args.enroll_emb),
                      mixtures=file_digest(data.file("wav.scp")),
                      **({"output": args.output} if args.output else {}))


def merge(args):
    merged = merge_pieces(args.out_dir, "wav.scp", args.nj, DataDir(args.data).utts)
    wav_dir = (Path(args.out_dir) / "wav").resolve()
    keys = {Path(p).parent.name for p in merged.values() if Path(p).parent.parent == wav_dir}
    if len(keys) != 1 or len({Path(p).parent for p in merged.values()}) != 1:
        raise KdError(f"the job pieces were enhanced by different models or options ({len(keys)} keys "
                      f"under {wav_dir}); run every job again", path=Path(args.out_dir) / "split")
    set_aside_others(wav_dir, keys.pop())
    log.info("merged %d utterances into %s", len(merged), Path(args.out_dir) / "wav.scp")


def main(argv=None):
    args = get_parser().parse_args(argv)
    if not args.data or not (args.merge or args.model):
        raise KdError("--data is required, and --model too unless --merge")
    if args.merge:
        merge(args)
    else:
        enhance_job(args)
    return 0


if __name__ == "__main__":
    run_main(main)
