"""Data dirs with a segments file: audio checks and enhancement work on the segments, not recordings."""

import numpy as np
import soundfile as sf

from kdspeech.bin import enhance, validate_data_dir
from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import write_kv
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save

SR = 16000


def _segmented_dir(root):
    save_audio(root / "rec.wav", (0.1 * np.sin(np.arange(SR) / 5.0)).astype(np.float32), SR)
    write_kv(root / "wav.scp", {"rec": str(root / "rec.wav")})
    write_kv(root / "segments", {"rec-a": "rec 0.00 0.25", "rec-b": "rec 0.50 0.80"})
    write_kv(root / "utt2spk", {"rec-a": "s", "rec-b": "s"})
    return root


def test_audio_check_decodes_recordings_of_a_segmented_dir(tmp_path, capsys):
    root = _segmented_dir(tmp_path / "d")
    validate_data_dir.main([str(root), "--audio"])
    out = capsys.readouterr().out
    assert "1 entries in wav.scp" in out and "audio OK at 16000 Hz" in out


def test_enhancement_writes_one_file_per_segment(tmp_path):
    root = _segmented_dir(tmp_path / "d")
    conf = {"num_layers": 2, "base_channels": 4, "growth": 2, "num_decimations": 2}
    atomic_save({"model_name": "waveunet", "model_conf": conf, "model": build_model("waveunet", conf).state_dict()},
                tmp_path / "m.pth")
    enhance.main(["--model", str(tmp_path / "m.pth"), "--data", str(root), "--out_dir", str(tmp_path / "enh"),
                  "--device", "cpu"])
    enhance.main(["--data", str(root), "--out_dir", str(tmp_path / "enh"), "--merge"])
    lengths = {p.stem: sf.info(str(p)).frames for p in (tmp_path / "enh/wav").glob("*/*.wav")}  # wav/<key>/
    assert lengths == {"rec-a": int(0.25 * SR), "rec-b": int(0.30 * SR)}
