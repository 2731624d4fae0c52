"""A tiny hybrid CTC/attention conformer_ctc (decoder option, loss ctc 0.3 + att_ce 0.7) trained by the
one trainer on four AN4 words, validated by attention rescoring (data.valid_decoding), and its exp
dir decoded by the trained: backend (attention rescoring by default, CTC alone when asked)."""

import json

import pytest
import torch
import yaml

from kdspeech.asr import build_backend
from kdspeech.errors import KdError
from conftest import corpora_path


@pytest.fixture(scope="module")
def hybrid_exp(tmp_path_factory):
    """An exp dir of a tiny hybrid conformer_ctc trained 3 updates on four AN4 words, validated by
    attention rescoring."""
    from kdspeech.asr.tokens import write_token_list
    from kdspeech.bin import train
    from test_asr_task import an4_dir

    corpora = corpora_path()
    if corpora is None:
        pytest.skip("real corpora not found: set KDSPEECH_CORPORA")
    root = tmp_path_factory.mktemp("hybrid")
    data = an4_dir(corpora, root / "data")
    write_token_list(data / "text", root / "tokens.txt")
    tokens = str(root / "tokens.txt")
    model = {"dim": 32, "heads": 2, "blocks": 1, "units": 64, "kernel": 7, "mels": 20, "hop": 320,
             "win_length": 512, "dropout": 0.0, "attention_dropout": 0.0, "specaug": {"time_masks": 0},
             "decoder": {"layers": 1, "heads": 2, "units": 64, "dropout": 0.0}}
    conf = {"task": "asr", "batch_size": 4, "num_workers": 0,
            "data": {"token_list": tokens, "samples_per_frame": 1280,
                     "valid_decoding": {"method": "rescore", "beam": 4, "ctc_weight": 0.3}},
            "model": {"name": "conformer_ctc", "conf": {"tokens": tokens, **model}},
            "loss": [{"name": "ctc", "weight": 0.3}, {"name": "att_ce", "weight": 0.7, "lsm_weight": 0.1}],
            "optim": {"name": "adam", "lr": 3e-3},
            "trainer": {"max_epochs": 3, "eval_every": 3, "tensorboard": False, "log_interval": 1000}}
    (root / "conf.yaml").write_text(yaml.safe_dump(conf))
    torch.manual_seed(0)
    train.main(["--config", str(root / "conf.yaml"), "--train_data", str(data), "--valid_data", str(data),
                "--out_dir", str(root / "exp")])
    return root


def test_a_tiny_hybrid_model_trains_and_decodes_by_rescoring(hybrid_exp):
    from kdspeech.data.datadir import DataDir

    history = json.loads((hybrid_exp / "exp" / "history.json").read_text())
    assert history[-1]["valid_loss"] < history[0]["valid_loss"]
    assert set(history[-1]["eval"]) == {"cer", "wer"}   # scored by attention rescoring (valid_decoding)
    asr = build_backend(f"trained:{hybrid_exp / 'exp'}")
    assert (asr.method, asr.beam, asr.ctc_weight) == ("rescore", 10, 0.3)
    ctc = build_backend("trained", {"model": str(hybrid_exp / "exp"), "decoding": "ctc"})
    assert (ctc.method, ctc.beam) == ("ctc", 1)
    data = DataDir(hybrid_exp / "data")
    hyps = {utt: asr.transcribe(*data.load_audio(utt)) for utt in data.utts}
    assert all(isinstance(h, str) for h in hyps.values())
    audio = data.load_audio(data.utts[0])
    assert asr.transcribe(*audio) == hyps[data.utts[0]] and isinstance(ctc.transcribe(*audio), str)
    with pytest.raises(KdError, match="method must be one of"):
        build_backend("trained", {"model": str(hybrid_exp / "exp"), "decoding": "joint"})
