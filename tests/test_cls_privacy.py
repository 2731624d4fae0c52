"""Privacy stage: WER per microphone rate with each ASR backend (deployment is tested in test_deploy.py)."""

import json

import pytest

from kdspeech.bin import privacy_wer
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError


def two_clear_utterances(corpora, data):
    src = corpora / "asr" / "speechbrain"
    utts = ["spk1_snt1", "spk1_snt5"]  # decoded almost perfectly at 16 kHz (corpora README)
    text = dict(l.split(" ", 1) for l in (src / "text").read_text().splitlines())
    wavs = dict(l.split(" ", 1) for l in (src / "wav.list").read_text().splitlines())
    write_kv(data / "wav.scp", {u: str(src / wavs[u]) for u in utts})
    write_kv(data / "text", {u: text[u] for u in utts})
    return data


def test_speech_at_1khz_is_much_less_intelligible(corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    data = two_clear_utterances(corpora, tmp_path / "speech")
    privacy_wer.main(["--data", str(data), "--rates", "16000 1000", "--out_dir", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "wer.json").read_text())
    assert list(result["backends"]) == ["pocketsphinx"] and result["rates"] == [16000, 1000]
    wer = result["backends"]["pocketsphinx"]["speech"]
    assert wer["16000"]["wer"] < 0.3 and wer["1000"]["wer"] > 0.6 and wer["1000"]["num_utts"] == 2
    assert (tmp_path / "out" / "pocketsphinx" / "hyp_speech_1000.txt").read_text().count("\n") == 2
    counts = wer["1000"]["utterances"]   # per-utterance word errors and reference words, for paired tests
    assert sorted(counts) == ["spk1_snt1", "spk1_snt5"] and sum(n for _, n in counts.values()) == wer["1000"]["words"]


def test_both_backends_decode_the_same_views(corpora, tmp_path):
    pytest.importorskip("pocketsphinx")
    pytest.importorskip("moonshine_voice")
    data = two_clear_utterances(corpora, tmp_path / "speech")
    privacy_wer.main(["--data", str(data), "--rates", "16000 1000", "--asr_backends", "pocketsphinx moonshine",
                      "--out_dir", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "wer.json").read_text())["backends"]
    assert set(result) == {"pocketsphinx", "moonshine"}
    for backend in result:
        wer = result[backend]["speech"]
        # same reference words for both; intelligible at 16 kHz, not at 1 kHz
        assert wer["16000"]["words"] == result["pocketsphinx"]["speech"]["16000"]["words"]
        assert wer["16000"]["wer"] < 0.3 < wer["1000"]["wer"], (backend, wer)
        hyps = (tmp_path / "out" / backend / "hyp_speech_16000.txt").read_text().splitlines()
        assert [h.split(" ")[0] for h in hyps] == ["spk1_snt1", "spk1_snt5"]


def test_unknown_or_repeated_backend_fails_before_decoding(tmp_path):
    with pytest.raises(KdError, match="distinct"):
        privacy_wer.main(["--data", str(tmp_path), "--asr_backends", "pocketsphinx pocketsphinx",
                          "--out_dir", str(tmp_path / "out")])
    with pytest.raises(KdError):
        privacy_wer.main(["--data", str(tmp_path), "--asr_backends", "nosuch", "--out_dir", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_privacy_table_compares_each_rate_with_the_highest_on_the_same_utterances(tmp_path):
    from kdspeech.report.cls_paper import privacy_section

    words = {f"u{i}": 10 if i < 3 else 1 for i in range(6)}
    at_16k = {u: [1 if n == 10 else 0, n] for u, n in words.items()}
    at_1k = {u: [8 if n == 10 else 1, n] for u, n in words.items()}

    def entry(utts):
        errors, total = sum(e for e, _ in utts.values()), sum(n for _, n in utts.values())
        return {"wer": errors / total, "num_utts": len(utts), "errors": errors, "words": total, "utterances": utts}

    path = tmp_path / "wer.json"
    path.write_text(json.dumps({"rates": [16000, 1000], "speakers": {"an4": {u: u[:2] for u in words}},
                                "backends": {"pocketsphinx": {"an4": {"16000": entry(at_16k), "1000": entry(at_1k)}}}}))
    heading, text = privacy_section(path, None)
    row = next(line for line in text.splitlines() if line.startswith("| pocketsphinx: an4 | 1 vs 16 kHz |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # corpus WERs 3 / 33 and 27 / 33 (a mean of per-utterance ratios would give 0.05 and 0.9)
    assert cells[2:5] == ["6", f"{100 * 3 / 33:.1f}", f"{100 * 27 / 33:.1f}"]
    assert cells[5].startswith(f"{100 * 24 / 33:+.1f} [") and cells[7] in ("confirmed", "not shown")
    legacy = tmp_path / "old.json"   # written before the per-utterance counts: no paired rows
    rates = {"16000": entry(at_16k), "1000": entry(at_1k)}
    for e in rates.values():
        del e["utterances"]
    legacy.write_text(json.dumps({"rates": [16000, 1000], "backends": {"pocketsphinx": {"an4": rates}}}))
    assert "vs 16 kHz" not in privacy_section(legacy, None)[1]
