"""mix_data_dir --grid: a balanced noise x SNR test grid; without it, outputs byte-identical to before."""

import hashlib
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from conftest import synth_signal
from kdspeech.bin import mix_data_dir
from kdspeech.data.audio import save_audio
from kdspeech.data.datadir import DataDir, read_kv, write_kv
from kdspeech.errors import KdError

# sha256 over every output file (the tmp folder's path replaced by <root>) of mix_data_dir on the dirs
# of `clean_noise` into <root>/a and <root>/b, made with the code before --grid existed (commit 56b636f).
BEFORE_GRID = {
    "a": ("5a279dc67dedb6b0e55f103ddb15a0e586abf923e9f021eb5f9e86df2325fcf0", ["--mixtures_per_utt", "2"]),
    "b": ("31e4d94cd9088581e8dacb13411374b18090ddb9de7c6969a4ff8d2485015d8c", ["--num_mixtures", "5"]),
}


@pytest.fixture
def clean_noise(tmp_path):
    clean, noise = tmp_path / "clean", tmp_path / "noise"
    wav, spk, txt = {}, {}, {}
    for i in range(4):
        utt = f"spk{i % 2}-utt{i:03d}"
        path = clean / "audio" / f"{utt}.wav"
        save_audio(path, synth_signal(16000 + 800 * i, 16000, seed=i), 16000)
        wav[utt], spk[utt], txt[utt] = str(path), f"spk{i % 2}", f"words {i}"
    write_kv(clean / "wav.scp", wav)
    write_kv(clean / "utt2spk", spk)
    write_kv(clean / "text", txt)
    nwav, label = {}, {}
    for i in range(3):
        path = noise / "audio" / f"n{i}.wav"
        save_audio(path, synth_signal(6400 + 1600 * i, 16000, seed=10 + i), 16000)
        nwav[f"n{i}"], label[f"n{i}"] = str(path), f"type{i % 2}"
    write_kv(noise / "wav.scp", nwav)
    write_kv(noise / "utt2label", label)
    return clean, noise


def digest(out, root):
    h = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes().replace(str(root.resolve()).encode(), b"<root>").replace(str(root).encode(), b"<root>")
        h.update(str(path.relative_to(out)).encode() + b"\0" + data + b"\0")
    return h.hexdigest()


def mix(clean, noise, out, *extra, snrs="-5,0,7.5", seed=3):
    mix_data_dir.main(["--clean", str(clean), "--noise", str(noise), "--out", str(out), "--snrs", snrs,
                       "--seed", str(seed), *map(str, extra)])
    return DataDir(out)


@pytest.mark.parametrize("name", sorted(BEFORE_GRID))
def test_without_grid_outputs_are_byte_identical_to_before(clean_noise, tmp_path, name):
    expected, extra = BEFORE_GRID[name]
    mix(*clean_noise, tmp_path / name, *extra)
    assert digest(tmp_path / name, tmp_path) == expected


def test_grid_all_is_every_utterance_at_every_noise_and_snr(clean_noise, tmp_path):
    clean, noise = clean_noise
    out = mix(clean, noise, tmp_path / "grid", "--grid", "all")
    plan = [line.split("\t") for line in (tmp_path / "grid/plan.tsv").read_text().splitlines()
            if not line.startswith("#")]
    cells = {(u, n, float(s)) for _, u, n, _, s in plan}
    assert len(plan) == len(cells) == 4 * 3 * 3
    assert cells == {(u, n, s) for u in DataDir(clean).utts for n in ("n0", "n1", "n2") for s in (-5, 0, 7.5)}
    assert "grid=all" in (tmp_path / "grid/plan.tsv").read_text().splitlines()[0]
    data = out.validate()
    assert Counter(data.read("utt2noise").values()) == {"type0": 24, "type1": 12}
    utt = data.utts[5]
    ref, nse = (sf.read(read_kv(tmp_path / "grid" / scp)[utt])[0] for scp in ("spk1.scp", "noise1.scp"))
    assert abs(10 * np.log10(np.sum(ref ** 2) / np.sum(nse ** 2)) - float(data.read("utt2snr")[utt])) < 0.05


def test_grid_n_per_cell_is_balanced_and_seeded(clean_noise, tmp_path):
    clean, noise = clean_noise

    def plan(seed, name):
        mix(clean, noise, tmp_path / name, "--grid", 3, seed=seed, snrs="0,5")
        return [tuple(line.split("\t")[1:3] + [line.split("\t")[4]])
                for line in (tmp_path / name / "plan.tsv").read_text().splitlines() if not line.startswith("#")]

    rows = plan(1, "a")
    assert len(rows) == 3 * 2 * 3                                     # noises x SNRs x N
    cells = Counter((n, s) for _, n, s in rows)
    assert set(cells.values()) == {3} and len(cells) == 6
    assert len(set(rows)) == len(rows)                                # distinct utterances in a cell
    uses = Counter(u for u, _, _ in rows)
    assert len(uses) == 4 and max(uses.values()) - min(uses.values()) <= 1
    assert plan(1, "b") == rows and plan(2, "c") != rows
    with pytest.raises(KdError, match="5 utterances per cell asked for, but the clean dir has 4"):
        mix(clean, noise, tmp_path / "d", "--grid", 5)


def test_grid_plan_and_options_are_checked(clean_noise, tmp_path, capsys):
    clean, noise = clean_noise
    mix(clean, noise, tmp_path / "m", "--plan")
    with pytest.raises(KdError, match="other options"):
        mix(clean, noise, tmp_path / "m", "--grid", "all")
    with pytest.raises(SystemExit):
        mix(clean, noise, tmp_path / "x", "--grid", "0")
    assert "expected 'all' or a count" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mix(clean, noise, tmp_path / "x", "--grid", "all", "--num_mixtures", 3)
