"""egs/librispeech/asr_enh/local/make_tables.py on hand-made score dirs: WER is the corpus rate of the
utterances every system of a table scored, and the paired test of two students is the difference of
their corpus WERs (bootstrap over the test speakers)."""

import subprocess
import sys
from pathlib import Path

from kdspeech.data.datadir import write_kv
from kdspeech.metrics.scores import write_scores

SCRIPT = Path(__file__).resolve().parents[1] / "egs" / "librispeech" / "asr_enh" / "local" / "make_tables.py"
ASR = ["wer", "wer_errors", "wer_words", "cer", "cer_errors", "cer_chars"]
UTTS = [f"m{i}" for i in range(12)]
WORDS = {u: 12 if i % 3 == 0 else 1 for i, u in enumerate(UTTS)}


def asr_scores(path, errors, utts=UTTS):
    write_scores(path / "scores.tsv", ASR, {u: [errors[u] / WORDS[u], errors[u], WORDS[u], 0.0, 0.0, 5.0]
                                             for u in utts})


def test_corpus_wer_on_common_utterances_and_paired_wer(tmp_path):
    exp, mix = tmp_path / "exp", tmp_path / "mix" / "test"
    write_kv(mix / "utt2spk", {u: f"an4-s{i // 4}" for i, u in enumerate(UTTS)})   # 3 speakers, 4 each
    write_kv(mix / "utt2snr", {u: "5" for u in UTTS})
    base = {u: (4 if WORDS[u] == 12 else 1) for u in UTTS}     # student_lr: 16 / 36 + 8 one-word errors
    kd = {u: (1 if WORDS[u] == 12 else 1) for u in UTTS}        # student_le_ld: better on the long ones
    for backend_dir in ("score_asr_test", "score_asr_moonshine_test"):
        asr_scores(exp / "student_lr" / backend_dir, base)
        asr_scores(exp / "student_le_ld" / backend_dir, kd)
        asr_scores(exp / "noisy" / backend_dir, base, UTTS[1:])   # noisy lacks m0: every row drops it
    out = tmp_path / "tables.md"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--exp", str(exp), "--mix", str(tmp_path / "mix"),
                           "--models", "noisy student_lr student_le_ld", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    table = text[text.index("ASR backend pocketsphinx"):text.index("ASR backend moonshine")]
    row = next(line for line in table.splitlines() if line.startswith("| DCCRN student, L_r only"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    common = UTTS[1:]
    wer = 100 * sum(base[u] for u in common) / sum(WORDS[u] for u in common)
    assert cells[8] == f"{wer:.2f}" and cells[-1] == "11"     # WER all on the 11 common utterances
    assert cells[5] == f"{wer:.2f}"                            # the an4 subset: every utterance here
    paired = next(line for line in text.splitlines()
                  if line.startswith("| DCCRN + L_e + L_d (proposed) | WER (%, moonshine) |"))
    cells = [c.strip() for c in paired.strip("|").split("|")]
    wer_base = 100 * sum(base.values()) / sum(WORDS.values())
    wer_kd = 100 * sum(kd.values()) / sum(WORDS.values())
    assert cells[2] == "1" and cells[3] == "12" and cells[4] == f"{wer_base:.3f}" and cells[5] == f"{wer_kd:.3f}"
    assert cells[6].startswith(f"{wer_kd - wer_base:+.3f} [") and cells[7] == "-"
    assert cells[9] == "one seed: not a verdict"


def test_seeds_are_averaged_and_paired_seed_by_seed(tmp_path):
    exp, mix = tmp_path / "exp", tmp_path / "mix" / "test"
    write_kv(mix / "utt2spk", {u: f"an4-s{i}" for i, u in enumerate(UTTS)})   # one utterance per speaker
    write_kv(mix / "utt2snr", {u: "0" for u in UTTS})
    extra = {1: 0, 2: 2, 3: 4}                 # student_lr makes 0 / 2 / 4 more errors on m0 than the KD student
    for seed, more in extra.items():
        suffix = "" if seed == 1 else f"_seed{seed}"
        kd = {u: 1 for u in UTTS}
        base = dict(kd, m0=1 + more)
        for backend_dir in ("score_asr_test", "score_asr_moonshine_test"):
            asr_scores(exp / f"student_lr{suffix}" / backend_dir, base)
            asr_scores(exp / f"student_le_ld{suffix}" / backend_dir, kd)
    asr_scores(exp / "noisy" / "score_asr_test", {u: 2 for u in UTTS})
    asr_scores(exp / "student_lr_seed9" / "score_asr_test", {u: 12 for u in UTTS})   # not a listed seed
    out = tmp_path / "tables.md"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--exp", str(exp), "--mix", str(tmp_path / "mix"),
                           "--models", "noisy student_lr student_le_ld", "--seeds", "1 2 3", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "training seeds 1, 2, 3" in text
    table = text[text.index("ASR backend pocketsphinx"):text.index("ASR backend moonshine")]
    row = next(line for line in table.splitlines() if line.startswith("| DCCRN student, L_r only"))
    words = sum(WORDS.values())
    mean_wer = sum(100 * (len(UTTS) + more) / words for more in extra.values()) / 3
    assert row.strip("|").split("|")[8].strip() == f"{mean_wer:.2f}"    # mean of the seeds' corpus WERs
    paired = next(line for line in text.splitlines()
                  if line.startswith("| DCCRN + L_e + L_d (proposed) | WER (%, pocketsphinx) |"))
    cells = [c.strip() for c in paired.strip("|").split("|")]
    assert cells[2] == "3"
    assert cells[7] == " / ".join(f"{-100 * more / words:+.3f}" for more in extra.values())
