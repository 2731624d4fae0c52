"""Verbs of the speaker template: embed, score_trials, plot_tsne, make_results_spk."""

import json

import numpy as np
import pytest
import torch

from kdspeech.bin import embed, make_results_spk, plot_tsne, score, score_trials
from kdspeech.errors import KdError
from kdspeech.models import build_model
from kdspeech.train.checkpoint import atomic_save
from test_tasks import make_speaker_dir


def table(path, mapping):
    keys = sorted(mapping)
    np.savez(path, keys=np.array(keys), emb=np.array([mapping[k] for k in keys], dtype=np.float32))
    return path


def test_score_trials_is_the_cosine_of_enrol_and_test_sides_and_names_bad_lines(tmp_path):
    enrol = table(tmp_path / "t.npz", {"a": [1.0, 0.0], "b": [0.0, 2.0], "c": [1.0, 1.0]})
    test = table(tmp_path / "s.npz", {"a": [3.0, 4.0], "b": [0.0, -1.0], "c": [1.0, 0.0]})
    trials = tmp_path / "trials"
    trials.write_text("a b nontarget\n\nc a target\n")
    out = tmp_path / "scores"
    score_trials.main(["--trials", str(trials), "--enroll", str(enrol), "--test", str(test), "--out", str(out)])
    lines = [l.split() for l in out.read_text().splitlines()]
    assert [l[:2] for l in lines] == [["a", "b"], ["c", "a"]]
    # a enrolled by [1,0] against b's test [0,-1]: 0; c enrolled [1,1]/sqrt2 against a's test [.6,.8]
    assert float(lines[0][2]) == pytest.approx(0.0, abs=1e-6)
    assert float(lines[1][2]) == pytest.approx((0.6 + 0.8) / np.sqrt(2), abs=1e-5)
    trials.write_text("a b nontarget\n\nc zz target\n")
    with pytest.raises(KdError, match=r"trials:3: trial 'c zz' names utterance 'zz'"):
        score_trials.main(["--trials", str(trials), "--enroll", str(enrol), "--test", str(test), "--out", str(out)])
    trials.write_text("a b nontarget\nc a maybe\n")
    with pytest.raises(KdError, match=r"trials:2: expected"):
        score_trials.main(["--trials", str(trials), "--enroll", str(enrol), "--test", str(test), "--out", str(out)])
    trials.write_text("a b nontarget\nc a target\n")
    wide = table(tmp_path / "w.npz", {"a": [1.0, 0.0, 0.0], "b": [0, 1, 0], "c": [0, 0, 1]})
    with pytest.raises(KdError, match="one embedding space"):
        score_trials.main(["--trials", str(trials), "--enroll", str(enrol), "--test", str(wide), "--out", str(out)])


def test_embed_gives_one_vector_per_utterance_as_the_model_computes_it(tmp_path):
    root = make_speaker_dir(tmp_path / "d", speakers=2, per_spk=2, trials=False)
    torch.manual_seed(0)
    model = build_model("tiny_ecapa", {"emb_dim": 16}).eval()
    atomic_save({"model_name": "tiny_ecapa", "model_conf": {"emb_dim": 16}, "model": model.state_dict()},
                tmp_path / "m.pth")
    out = tmp_path / "e" / "emb.npz"
    embed.main(["--model", str(tmp_path / "m.pth"), "--data", str(root), "--out", str(out)])
    z = np.load(out)
    assert list(z["keys"]) == ["spk0-u0", "spk0-u1", "spk1-u0", "spk1-u1"] and z["emb"].shape == (4, 16)
    from kdspeech.data.audio import load_audio
    wav, _ = load_audio(root / "wav" / "spk1-u0.wav")
    with torch.no_grad():
        ref = model(torch.from_numpy(wav[None].astype(np.float32)))["emb"][0].numpy()
    np.testing.assert_allclose(z["emb"][2], ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(KdError, match="give --model, or --config"):
        embed.main(["--data", str(root), "--out", str(out)])


def test_paired_margins_and_results_file(tmp_path):
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    labels = np.array([1, 1, 0, 1, 0])
    t = make_results_spk.eer_threshold(scores, labels)
    assert 0.2 <= t <= 0.3
    m = make_results_spk.margins(scores, labels)
    assert (m > 0).sum() >= 3 and m[3] < 0 < m[0]                # the target at 0.2 is the error
    trials = tmp_path / "trials"
    trials.write_text("".join(f"e{i} t{i} {'target' if l else 'nontarget'}\n" for i, l in enumerate(labels)))
    rows = []
    for name, s in (("good", scores), ("bad", scores[::-1])):
        d = tmp_path / name
        d.mkdir()
        (d / "scores").write_text("".join(f"e{i} t{i} {v}\n" for i, v in enumerate(s)))
        score.main(["--metrics", "eer,min_dcf", "--trials", str(trials), "--trial_scores", str(d / "scores"),
                    "--out_dir", str(d)])
        rows += ["--row", f"{name}/test/ss={d}"]
    paper = tmp_path / "paper.yaml"
    paper.write_text("source: X\nrows:\n  - {system: T, trials: V1-O, protocol: asym, eer: 4.26, min_dcf: 0.337, "
                     "comparable: 'no'}\n")
    out = tmp_path / "RESULTS.md"
    make_results_spk.main(rows + ["--compare", "good/test/ss:bad/test/ss", "--paper", str(paper),
                                  "--out", str(out), "--command", "./run.sh --x"])
    text = out.read_text()
    eer_good = json.loads((tmp_path / "good" / "summary.json").read_text())["trials"]["eer"]
    assert f"| good | test | ss | {100 * eer_good:.3f} |" in text
    assert "| good/test/ss | bad/test/ss | 5 | +" in text and "4.260" in text and "./run.sh --x" in text
    with pytest.raises(KdError, match="both sides must be --row labels"):
        make_results_spk.main(rows + ["--compare", "good/test/ss:nope/test/ss", "--out", str(out)])


def test_plot_tsne_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    utt2spk = {f"s{s}-u{k}": f"s{s}" for s in range(4) for k in range(5)}
    (tmp_path / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(utt2spk.items())))
    centres = {s: rng.normal(size=8) for s in set(utt2spk.values())}
    a = table(tmp_path / "a.npz", {u: centres[s] + 0.1 * rng.normal(size=8) for u, s in utt2spk.items()})
    b = table(tmp_path / "b.npz", {u: centres[s] + 0.3 * rng.normal(size=8) for u, s in utt2spk.items()})
    out = tmp_path / "p" / "tsne.png"
    plot_tsne.main(["--emb", f"teacher={a}", "--emb", f"student={b}", "--utt2spk", str(tmp_path / "utt2spk"),
                    "--speakers", "3", "--out", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_embed_with_another_chunk_length_keeps_the_weights(tmp_path):
    root = make_speaker_dir(tmp_path / "d", speakers=2, per_spk=1, trials=False)
    torch.manual_seed(0)
    conf = {"emb_dim": 16, "chunk": 0.1}
    model = build_model("tiny_ecapa", conf).eval()
    atomic_save({"model_name": "tiny_ecapa", "model_conf": conf, "model": model.state_dict()}, tmp_path / "m.pth")
    outs = {}
    for c in ("0.1", "0.25"):
        embed.main(["--model", str(tmp_path / "m.pth"), "--data", str(root), "--out", str(tmp_path / f"{c}.npz"),
                    "--model_conf", f"chunk={c}"])
        outs[c] = np.load(tmp_path / f"{c}.npz")["emb"]
    ref = build_model("tiny_ecapa", {"emb_dim": 16, "chunk": 0.25}).eval()
    ref.load_state_dict(model.state_dict())
    from kdspeech.data.audio import load_audio
    wav, _ = load_audio(root / "wav" / "spk0-u0.wav")
    with torch.no_grad():
        expect = ref(torch.from_numpy(wav[None].astype(np.float32)))["emb"][0].numpy()
    np.testing.assert_allclose(outs["0.25"][0], expect, rtol=1e-4, atol=1e-5)
    assert not np.allclose(outs["0.1"], outs["0.25"])
    with pytest.raises(KdError, match="changes the model's weights"):
        embed.main(["--model", str(tmp_path / "m.pth"), "--data", str(root), "--out", str(tmp_path / "x.npz"),
                    "--model_conf", "emb_dim=8"])
