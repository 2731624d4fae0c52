"""Tiny data dirs of real audio for a dry run: a few files of ``shared/corpora`` cut to ``seconds``.

``make_data(task, corpora, root, n_train, seconds, ...)`` writes what the task's dataset reads and
returns the config changes that point at it (``{"train": dir, "valid": dir, "data": {...},
"model": {...}}``):

* ``enhancement``: LibriSpeech speech in NOISEX-92 noise at -5..10 dB (``wav.scp``, ``spk1.scp``,
  ``utt2snr``, ``utt2spk``); ``n_train`` mixtures to train on, 2 to validate;
* ``personalized_enhancement``: the speech as a sources dir (on-the-fly mixing, ``items_per_epoch``
  = ``n_train``) with noise and RIR dirs, a mixed validation dir, and an enrolment table keyed by
  speaker with random unit vectors of the model's ``emb_dim`` (it stands for the reference encoder's
  embeddings of stage 3);
* ``speaker_embedding``: speech of 2+ speakers; the validation dir has target and non-target trials;
* ``classification``: ESC-50 clips of 2 classes, their PANNs log-mel dump (``kdspeech.bin.dump_feats``
  at 16 kHz, ``seconds`` long) and ``model.conf.num_classes``;
* ``asr``: AN4 utterances (the shared LibriSpeech has no transcripts) with the first words of their
  transcripts (as many characters as CTC can emit from ``seconds`` of audio: the words need not be
  in the cut, which a few steps of a dry run do not mind) and their token list, as
  ``data.token_list`` and ``model.conf.tokens``.

``without_data(task)``: the model options a task's data would set, for building a model alone.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

SR = 16000


def _read(path, seconds, offset=0.5):
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:
        from kdspeech.data.resample import resample
        x = resample(x, sr, SR)
    n = int(seconds * SR)
    start = min(int(offset * SR), max(len(x) - n, 0))
    x = x[start:start + n]
    return np.pad(x, (0, n - len(x)))


def speech_files(corpora, speakers=4, per_speaker=2):
    """``[(speaker, utt, path)]``: ``per_speaker`` LibriSpeech utterances of ``speakers`` speakers,
    speakers alternating (the first k files cover min(k, speakers) speakers)."""
    root = Path(corpora) / "librispeech" / "LibriSpeech"
    chosen = []
    for spk_dir in sorted(p for p in root.glob("*/*") if p.is_dir())[:speakers]:
        files = sorted(spk_dir.glob("*/*.flac"))[:per_speaker]
        chosen.append([(spk_dir.name, f.stem, f) for f in files])
    if len(chosen) < 2:
        raise KdError("a dry run needs LibriSpeech speech of 2+ speakers", path=root)
    return [row[i] for i in range(per_speaker) for row in chosen if i < len(row)]


def _write_dir(d, tables):
    d.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_kv(d / name, table)
    return d


def _speech_dir(d, files, seconds, trials=False):
    wav, spk = {}, {}
    for speaker, utt, path in files:
        out = d / "wav" / f"{utt}.wav"
        save_audio(out, _read(path, seconds), SR)
        wav[utt], spk[utt] = str(out), speaker
    tables = {"wav.scp": wav, "utt2spk": spk}
    _write_dir(d, tables)
    if trials:
        utts = sorted(wav)
        lines = [f"{a} {b} {'target' if spk[a] == spk[b] else 'nontarget'}"
                 for i, a in enumerate(utts) for b in utts[i + 1:]]
        (d / "trials").write_text("\n".join(lines) + "\n")
    return d


def _noise_files(corpora):
    files = sorted((Path(corpora) / "noise" / "noisex92").glob("*.flac"))
    if not files:
        raise KdError("no NOISEX-92 noise found", path=Path(corpora) / "noise" / "noisex92")
    return files


def _audio_dir(d, files, seconds):
    wav = {}
    for path in files:
        out = d / "wav" / f"{path.stem}.wav"
        save_audio(out, _read(path, seconds, offset=0.0), SR)
        wav[path.stem] = str(out)
    return _write_dir(d, {"wav.scp": wav})


def _mix_dir(d, files, noises, seconds, snrs=(-5.0, 0.0, 5.0, 10.0)):
    wav, clean, snr, spk = {}, {}, {}, {}
    for i, (speaker, utt, path) in enumerate(files):
        s = _read(path, seconds)
        n = _read(noises[i % len(noises)], seconds, offset=1.0 + i)
        gain = np.sqrt(np.sum(s ** 2) / max(np.sum(n ** 2), 1e-9) / 10 ** (snrs[i % len(snrs)] / 10))
        mix = s + gain * n
        peak = max(np.abs(mix).max(), 1e-9)
        scale = min(1.0, 0.95 / peak)
        save_audio(d / "wav" / f"{utt}_mix.wav", mix * scale, SR)
        save_audio(d / "wav" / f"{utt}_clean.wav", s * scale, SR)
        wav[utt], clean[utt] = str(d / "wav" / f"{utt}_mix.wav"), str(d / "wav" / f"{utt}_clean.wav")
        snr[utt], spk[utt] = f"{snrs[i % len(snrs)]:g}", speaker
    return _write_dir(d, {"wav.scp": wav, "spk1.scp": clean, "utt2snr": snr, "utt2spk": spk})


def _enroll_table(path, speakers, dim, seed=0):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((len(speakers), dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    np.savez(path, keys=np.array(sorted(speakers)), emb=emb)
    return path


def _classification(corpora, root, n_train, seconds):
    import csv

    from kdspeech.bin import dump_feats

    meta = Path(corpora) / "esc50" / "meta" / "esc50.csv"
    rows = list(csv.DictReader(meta.open()))
    classes = sorted({r["category"] for r in rows})[:2]
    picked = []
    for i in range(n_train + 2):
        cls_rows = [r for r in rows if r["category"] == classes[i % 2]]
        picked.append(cls_rows[i // 2])
    wav, label = {}, {}
    for r in picked:
        utt = Path(r["filename"]).stem
        wav[utt] = str(Path(corpora) / "esc50" / "audio" / f"{utt}.flac")
        label[utt] = r["category"]
    utts = list(wav)   # train: the first n_train picked, valid: the last 2 (both classes)
    dirs = {}
    for name, part in (("train", utts[:n_train]), ("valid", utts[n_train:]), ("all", utts)):
        dirs[name] = _write_dir(root / name, {"wav.scp": {u: wav[u] for u in part},
                                              "utt2label": {u: label[u] for u in part}})
        (dirs[name] / "classes.txt").write_text("\n".join(classes) + "\n")
    feats = root / "feats" / "16000"
    dump_feats.main(["--data", str(dirs["all"]), "--rate", "16000", "--out", str(feats),
                     "--duration", f"{seconds:g}"])
    return {"train": dirs["train"], "valid": dirs["valid"], "data": {"feats": str(feats)},
            "model": {"num_classes": len(classes)}}


# The characters of normalised LibriSpeech transcripts (kdspeech.asr.tokens' layout): building a
# recogniser without data.
CHARS = ["<blank>", "<space>", "'"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]


def without_data(task):
    """Model options the task's data sets, for a model built without data (``--build_only``)."""
    return {"tokens": CHARS} if task == "asr" else {}


def _an4(corpora, count):
    """``[(speaker, utt, path, transcript)]``: ``count`` transcribed AN4 utterances, speakers mixed."""
    root = Path(corpora) / "asr" / "an4"
    rows = [line.split(maxsplit=1) for line in (root / "text").read_text().splitlines()]
    paths = dict(line.split(maxsplit=1) for line in (root / "wav.list").read_text().splitlines())
    spk = dict(line.split(maxsplit=1) for line in (root / "utt2spk").read_text().splitlines())
    if len(rows) < count:
        raise KdError(f"{len(rows)} transcribed utterances, the dry run needs {count}", path=root / "text")
    return [(spk[utt], utt, root / paths[utt], words) for utt, words in rows[::max(1, len(rows) // count)][:count]]


def _asr(corpora, root, n_train, seconds, samples_per_frame=640):
    from kdspeech.asr.tokens import write_token_list

    most = max(1, int(seconds * SR) // samples_per_frame // 2)   # CTC: labels + repeats <= frames
    rows = _an4(corpora, n_train + 2)
    text = {}
    for _, utt, _, words in rows:
        kept = words.split()[:1]
        for word in words.split()[1:]:
            if len(" ".join(kept + [word])) > most:
                break
            kept.append(word)
        text[utt] = " ".join(kept)[:most]
    dirs = {}
    for name, part in (("train", rows[:n_train]), ("valid", rows[n_train:])):
        dirs[name] = _speech_dir(root / name, [r[:3] for r in part], seconds)
        # the speech is its own clean reference (data.reference: spk1 of the joint SE+ASR configs)
        (dirs[name] / "spk1.scp").write_text((dirs[name] / "wav.scp").read_text())
        write_kv(dirs[name] / "text", {utt: text[utt] for _, utt, _, _ in part})
    write_kv(root / "text", text)
    tokens = root / "tokens.txt"
    write_token_list(root / "text", tokens)
    return {"train": dirs["train"], "valid": dirs["valid"], "data": {"token_list": str(tokens)},
            "model": {"tokens": str(tokens)}}


def make_data(task, corpora, root, n_train, seconds, emb_dim=256):
    """Write the task's tiny data under ``root``; the dirs and config changes (see module doc)."""
    root = Path(root)
    if task == "classification":
        return _classification(corpora, root, n_train, seconds)
    if task == "asr":
        return _asr(corpora, root, n_train, seconds)
    files = speech_files(corpora, speakers=max(2, min(4, n_train)), per_speaker=max(2, -(-n_train // 4) + 1))
    if task == "enhancement":
        noises = _noise_files(corpora)
        return {"train": _mix_dir(root / "train", files[:n_train], noises, seconds),
                "valid": _mix_dir(root / "valid", files[-2:], noises[::-1], seconds), "data": {}, "model": {}}
    if task == "speaker_embedding":
        return {"train": _speech_dir(root / "train", files[:max(n_train, 1)], seconds),
                "valid": _speech_dir(root / "valid", [f for f in files if f[0] in {files[0][0], files[1][0]}][:4],
                                     seconds, trials=True),
                "data": {}, "model": {}}
    if task == "personalized_enhancement":
        noises = _noise_files(corpora)
        rirs = sorted((Path(corpora) / "rirs").glob("*.flac"))
        sources = _speech_dir(root / "sources", files, seconds)
        on_the_fly = {"noises": str(_audio_dir(root / "noise", noises[:2], 4.0)),
                      "items_per_epoch": n_train}
        if rirs:
            on_the_fly["rirs"] = str(_audio_dir(root / "rir", rirs[:2], 0.5))
        table = _enroll_table(root / "enroll_emb.npz", {s for s, _, _ in files}, emb_dim)
        return {"train": sources, "valid": _mix_dir(root / "valid", files[-2:], noises, seconds),
                "data": {"enroll_emb": str(table), "on_the_fly": on_the_fly}, "model": {}}
    raise KdError(f"the dry run has no data for task '{task}'")
