"""Speech recognition: whole utterances of a data dir (``wav.scp``, ``text``) and their token ids.

    task: asr
    data: {token_list: data/tokens.txt, sr: 16000, samples_per_frame: 640, reference: null}

``token_list``: the character list of ``kdspeech.asr.tokens`` (``python -m kdspeech.bin.make_tokens``
writes it from the training text); ``bpe_model``: the sentencepiece model of a BPE list (``make_tokens
--token_type bpe`` writes ``bpe.model`` beside it), null for characters.  Transcripts are normalised as
WER/CER normalises them and encoded; a character outside the list is a KdError naming the utterance, ``text`` and its line.  An
empty ``text`` file, or a transcript with nothing left after normalisation, is a KdError naming the
file (and line).

``samples_per_frame``: the samples per encoder output frame (``conformer_ctc``: hop 160 x subsampling 4
= 640), used to drop, when the dir is read, every utterance too short for CTC to emit its labels
(fewer frames than labels plus repeated pairs); the count and the first ids are logged with the
``text`` file.  ``0``: no check (the ``ctc`` term then leaves such utterances out of the loss).

``reference``: the name of an audio list of the data dir whose utterances become the item key
``reference`` (``spk1``: ``spk1.scp``, the clean speech of a mixture set), for a system trained on an
enhancement loss beside CTC (Joint-ASO: ``{name: si_snr, student_key: wav, target_key: reference}``,
``kdspeech.models.se_asr``); a reference of another length than its input is a KdError naming the
utterance.  ``null`` (default): no reference is read.

Items: ``input`` (the waveform), ``input_len``, ``target`` (token ids), ``target_len``, ``key`` (the
utterance id), and ``reference`` when asked; ``collate`` pads the waveforms and the token ids of a batch
with zeros.  Items have no
random crop: an utterance is the same in every epoch, in training and in validation (SpecAugment, in
the model, is what varies).

Validation evaluation: greedy CTC decoding of each utterance on its own, ``cer`` and ``wer`` as corpus
rates (errors over reference length, ``kdspeech.metrics.transcript``, the one WER/CER definition).
``valid_decoding``: null (default, greedy CTC) or ``{method: auto | ctc | rescore, beam, ctc_weight}``
(``kdspeech.asr.rescore``): e.g. ``{method: rescore, beam: 10, ctc_weight: 0.3}`` scores a hybrid
CTC/attention model (``conformer_ctc`` with ``decoder``) by attention rescoring of the CTC n-best.
"""

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from kdspeech.data.datadir import DataDir
from kdspeech.errors import KdError
from kdspeech.tasks import TASKS, Task

log = logging.getLogger(__name__)

OPTIONS = {"token_list": None, "bpe_model": None, "sr": 16000, "samples_per_frame": 640, "reference": None,
           "valid_decoding": None}
DECODING_KEYS = ("method", "beam", "ctc_weight")


def num_samples(data, utt, sr):
    """Samples of ``utt`` at ``sr`` from the headers (or ``segments``), without decoding a file."""
    from kdspeech.data.audio import audio_info

    if data.has("segments"):
        _, start, end = data.read("segments")[utt].split()
        return int(round((float(end) - float(start)) * sr))
    frames, rate, _ = audio_info(data.wav_scp[utt], utt=utt)
    return int(frames * sr // rate)


def pad_batch(items):
    """Zero-padded ``input`` and ``target``, stacked lengths, the list of keys."""
    out = {}
    for name in ("input", "target", "reference"):
        if name not in items[0]:
            continue
        values = [item[name] for item in items]
        longest = max(len(v) for v in values)
        out[name] = torch.stack([torch.nn.functional.pad(v, (0, longest - len(v))) for v in values])
    for name in ("input_len", "target_len"):
        out[name] = torch.stack([item[name] for item in items])
    out["key"] = [item["key"] for item in items]
    return out


class AsrDataset(Dataset):
    options = OPTIONS   # the data options and their defaults (config key data:)

    def __init__(self, data_dir, token_list=None, sr=16000, samples_per_frame=640, reference=None, train=True,
                 seed=1, bpe_model=None, valid_decoding=None):
        from kdspeech.asr.tokens import encode, read_token_list

        self.valid_decoding = _decoding_conf(valid_decoding)
        if not token_list:
            raise KdError("the asr task needs data.token_list (python -m kdspeech.bin.make_tokens)")
        self.dir = DataDir(data_dir)
        text_file = self.dir.file("text")
        if not self.dir.has("text"):
            raise KdError("an ASR data dir needs text (<utt> <transcript>)", path=text_file)
        texts = self.dir.read("text")
        if not texts:
            raise KdError("text is empty: an ASR data dir needs a transcript per utterance", path=text_file)
        self.dir.validate()
        self.reference = None
        if reference:
            scp = f"{reference}.scp"
            if not self.dir.has(scp):
                raise KdError(f"data.reference: {reference}, but the data dir has no {scp} (a mixture set's "
                              "clean speech is spk1.scp)", path=self.dir.file(scp))
            self.reference, self.reference_file = self.dir.read(scp), self.dir.file(scp)
        self.tokens = read_token_list(token_list)
        self.sr, self.train = int(sr), train
        line_of = {u: i for i, u in enumerate(texts, start=1)}   # read_kv allows no blank line
        self.texts, self.ids, self.samples = {}, {}, {}
        short = []
        for utt in self.dir.utts:
            where = f"utterance {utt} ({text_file}:{line_of[utt]})"
            ids = encode(texts[utt], self.tokens, where, bpe_model=bpe_model)
            if not ids:
                raise KdError(f"{where}: transcript '{texts[utt]}' has no character left after normalisation")
            n = num_samples(self.dir, utt, self.sr)
            if samples_per_frame and max(0, n // int(samples_per_frame) - 1) < _frames_needed(ids):
                short.append(utt)
                continue
            self.texts[utt], self.ids[utt], self.samples[utt] = texts[utt], ids, n
        if short:
            log.warning("%s: %d of %d utterances dropped, shorter than their CTC label sequence at %d samples "
                        "per encoder frame: %s%s", text_file, len(short), len(self.dir.utts), samples_per_frame,
                        ", ".join(short[:5]), " ..." if len(short) > 5 else "")
        self.dropped = short
        self.utts = [u for u in self.dir.utts if u in self.ids]
        if not self.utts:
            raise KdError(f"every utterance is shorter than its CTC label sequence ({len(short)} dropped)",
                          path=text_file)

    @classmethod
    def from_config(cls, data_dir, conf, train, seed, where=None):
        unknown = set(conf) - set(OPTIONS)
        if unknown:
            raise KdError(f"asr data options {sorted(unknown)} unknown (known: {sorted(OPTIONS)})", path=where)
        return cls(data_dir, train=train, seed=seed, **{**OPTIONS, **conf})

    def __len__(self):
        return len(self.utts)

    def item_seconds(self):
        """``[(utt, seconds)]``: whole utterances (length-bucketed batches, ``batch_seconds``)."""
        return [(u, self.samples[u] / self.sr) for u in self.utts]

    def __getitem__(self, index):
        utt = self.utts[index]
        wav, _ = self.dir.load_audio(utt, sr=self.sr)
        wav = torch.from_numpy(np.ascontiguousarray(wav, np.float32))
        ids = torch.tensor(self.ids[utt], dtype=torch.long)
        item = {"input": wav, "input_len": torch.tensor(len(wav)), "target": ids,
                "target_len": torch.tensor(len(ids)), "key": utt}
        if self.reference is not None:
            item["reference"] = self._reference(utt, len(wav))
        return item

    def _reference(self, utt, length):
        from kdspeech.data.audio import load_audio

        if utt not in self.reference:
            raise KdError(f"utterance {utt} has no reference", path=self.reference_file)
        ref, _ = load_audio(self.reference[utt], sr=self.sr, utt=utt)
        if len(ref) != length:
            raise KdError(f"utterance {utt}: its reference has {len(ref)} samples, its input {length}",
                          path=self.reference[utt])
        return torch.from_numpy(np.ascontiguousarray(ref, np.float32))

    collate = staticmethod(pad_batch)


def _frames_needed(ids):
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def _decoding_conf(conf):
    """``data.valid_decoding``: None (greedy CTC) or a dict of ``kdspeech.asr.rescore``'s options."""
    if conf is None:
        return None
    if not isinstance(conf, dict):
        raise KdError(f"data.valid_decoding must be null or {{method, beam, ctc_weight}}, not {conf!r}")
    unknown = set(conf) - set(DECODING_KEYS)
    if unknown:
        raise KdError(f"data.valid_decoding: unknown keys {sorted(unknown)} (known: {', '.join(DECODING_KEYS)})")
    from kdspeech.asr.rescore import decoding_options

    decoding_options(**conf, what="data.valid_decoding")   # its values checked before training
    return dict(conf)


def transcribe_one(model, wav, device, beam=1, method="ctc", ctc_weight=0.3):
    """Token ids of one waveform (a 1-D tensor) decoded on its own (eval mode is the caller's):
    ``method`` ``ctc`` (greedy for ``beam`` 1, else the prefix beam search) or ``rescore`` (attention
    rescoring of the ``beam``-best, ``kdspeech.asr.rescore``)."""
    from kdspeech.asr.rescore import decode_output

    x = torch.as_tensor(wav, dtype=torch.float32).to(device)[None]
    with torch.no_grad():
        out = model(x, torch.tensor([x.shape[-1]], device=device))
    return decode_output(model, out, method, beam, ctc_weight)


@TASKS.register("asr")
class AsrTask(Task):
    dataset_class = AsrDataset
    metrics = ("cer", "wer")
    default_metrics = ("cer", "wer")

    def evaluate(self, model, dataset, indices, device, metrics):
        from kdspeech.asr.tokens import decode
        from kdspeech.metrics.transcript import char_errors, word_errors

        decoding = {"method": "ctc", "beam": 1}
        if getattr(dataset, "valid_decoding", None) is not None:
            from kdspeech.asr.rescore import decoding_options

            method, beam, ctc_weight = decoding_options(**dataset.valid_decoding, model=getattr(model, "module", model),
                                                        what="data.valid_decoding")
            decoding = {"method": method, "beam": beam, "ctc_weight": ctc_weight}
        records = []
        for index in indices:
            item = dataset[index]
            hyp = decode(transcribe_one(getattr(model, "module", model), item["input"], device, **decoding),
                         dataset.tokens)
            ref = dataset.texts[item["key"]]
            record = {"utt": item["key"], "hyp": hyp}
            record["cer_errors"], record["cer_chars"] = char_errors(ref, hyp)
            record["wer_errors"], record["wer_words"] = word_errors(ref, hyp)
            records.append(record)
        return records

    def summarize(self, records, metrics, dataset):
        from kdspeech.metrics.transcript import corpus_rate

        sizes = {"cer": "cer_chars", "wer": "wer_words"}
        return {name: corpus_rate([r[f"{name}_errors"] for r in records], [r[sizes[name]] for r in records])
                for name in metrics}
