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
    assert cells[2] == "12" and cells[3] == f"{wer_base:.3f}" and cells[4] == f"{wer_kd:.3f}"
    assert cells[5].startswith(f"{wer_kd - wer_base:+.3f} [")
    assert cells[7] == "one seed: not a verdict"
