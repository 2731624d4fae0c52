"""BPE token lists of the asr task (kdspeech.asr.tokens.write_bpe_list, make_tokens --token_type bpe):
a sentencepiece model trained on the normalised text, the list <blank> + its pieces, transcripts
encoded by the model and decoded back without it, the same text giving the same model, a tiny
Conformer-CTC training on BPE targets, and the errors."""

import pytest
import yaml

from kdspeech.asr.tokens import BLANK, WORD_START, decode, encode, read_token_list
from kdspeech.bin import make_tokens, train
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError
from conftest import corpora_path
from test_asr_task import TINY, an4_dir

spm = pytest.importorskip("sentencepiece")

TEXT = {f"u{i:02d}": t for i, t in enumerate(
    ["YES NO", "GO LEFT", "GO RIGHT", "STOP", "UP AND DOWN", "ON AND OFF", "YES YES", "LEFT RIGHT LEFT",
     "NO STOP", "DOWN UP"])}


def bpe(tmp_path, units=30):
    write_kv(tmp_path / "text", TEXT)
    out = tmp_path / "bpe" / "tokens.txt"
    make_tokens.main(["--text", str(tmp_path / "text"), "--out", str(out), "--token_type", "bpe",
                      "--bpe_units", str(units)])
    return out, out.parent / "bpe.model"


def test_bpe_list_encodes_and_decodes_every_transcript(tmp_path):
    tokens_file, model = bpe(tmp_path)
    tokens = read_token_list(tokens_file)
    assert tokens[0] == BLANK and "<unk>" not in tokens and any(t.startswith(WORD_START) for t in tokens)
    assert model.is_file() and len(tokens) <= 31
    for text in TEXT.values():
        ids = encode(text, tokens, bpe_model=model)
        assert 0 not in ids and len(ids) <= len(text) + 1
        assert decode(ids, tokens) == text.lower()          # the normalised text, no model needed
    again = tmp_path / "again"
    again.mkdir()
    tokens_again, model_again = bpe(again)
    assert tokens_again.read_text() == tokens_file.read_text() and model_again.read_bytes() == model.read_bytes()


def test_a_piece_outside_the_list_and_a_missing_model_are_named(tmp_path):
    tokens_file, model = bpe(tmp_path)
    tokens = read_token_list(tokens_file)
    with pytest.raises(KdError, match="utterance x.*pieces .* not in the token list"):
        encode("ZEBRA", tokens, where="utterance x", bpe_model=model)
    with pytest.raises(KdError, match="BPE model not found"):
        encode("YES", tokens, bpe_model=tmp_path / "none.model")
    with pytest.raises(KdError, match=r"5 BPE units cannot hold the \d+ pieces"):
        make_tokens.main(["--text", str(tmp_path / "text"), "--out", str(tmp_path / "y" / "tokens.txt"),
                          "--token_type", "bpe", "--bpe_units", "5"])
    write_kv(tmp_path / "empty_text", {"a": "..."})
    with pytest.raises(KdError, match="no transcript to train a BPE model on"):
        make_tokens.main(["--text", str(tmp_path / "empty_text"), "--out", str(tmp_path / "x" / "tokens.txt"),
                          "--token_type", "bpe"])


def test_conformer_ctc_trains_on_bpe_targets(tmp_path):
    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA")
    data = an4_dir(corpora, tmp_path / "data")
    out = tmp_path / "bpe" / "tokens.txt"
    make_tokens.main(["--text", str(data / "text"), "--out", str(out), "--token_type", "bpe", "--bpe_units", "20"])
    conf = {"task": "asr", "data": {"token_list": str(out), "bpe_model": str(out.parent / "bpe.model"),
                                    "samples_per_frame": 1280},
            "batch_size": 4, "num_workers": 0, "model": {"name": "conformer_ctc", "conf": {"tokens": str(out), **TINY}},
            "loss": [{"name": "ctc"}], "optim": {"name": "adam", "lr": 2e-3},
            "trainer": {"max_epochs": 2, "tensorboard": False}}
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    train.main(["--config", str(tmp_path / "conf.yaml"), "--train_data", str(data), "--valid_data", str(data),
                "--out_dir", str(tmp_path / "exp")])
    saved = yaml.safe_load((tmp_path / "exp" / "config.yaml").read_text())
    assert saved["data"]["bpe_model"].endswith("bpe.model") and (tmp_path / "exp" / "best.pth").exists()
