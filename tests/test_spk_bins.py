"""Verbs of the speaker template: make_trials, embed, score_trials, plot_tsne, make_results_spk."""

import json

import numpy as np
import pytest
import torch

from kdspeech.bin import embed, make_results_spk, make_trials, plot_tsne, score, score_trials
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


def test_results_file_gives_cis_and_paired_eer_differences(tmp_path):
    # 6 speakers x 3 utterances, every pair a trial; "good" separates them, "bad" is the reverse ranking
    utts = [(f"s{s}-u{k}", f"s{s}") for s in range(6) for k in range(3)]
    data = tmp_path / "data"
    data.mkdir()
    (data / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in utts))
    pairs = [(a, b, sa == sb) for i, (a, sa) in enumerate(utts) for b, sb in utts[i + 1:]]
    (data / "trials").write_text("".join(f"{a} {b} {'target' if t else 'nontarget'}\n" for a, b, t in pairs))
    rng = np.random.default_rng(0)
    rows = []
    for name, sign, seeds in (("good", 1, (1, 2, 3)), ("bad", -1, (1, 2, 3))):
        dirs = []
        for seed in seeds:
            d = tmp_path / f"{name}{seed}"
            d.mkdir()
            values = [sign * (1.0 if t else 0.0) + 0.3 * rng.normal() for _, _, t in pairs]
            (d / "scores").write_text("".join(f"{a} {b} {v:.6f}\n" for (a, b, _), v in zip(pairs, values)))
            score.main(["--metrics", "eer,min_dcf", "--trials", str(data / "trials"), "--trial_scores",
                        str(d / "scores"), "--out_dir", str(d)])
            dirs.append(str(d))
        if name == "good":   # seeds as utils/seeds.sh names them, or as one row of several dirs
            rows += [w for k, d in enumerate(dirs) for w in ("--row", f"good{f'_seed{k + 1}' * (k > 0)}/test/ss={d}")]
        else:
            rows += ["--row", f"{name}/test/ss={','.join(dirs)}"]
        rows += ["--row", f"{name}1/test/ss={dirs[0]}"]
    paper = tmp_path / "paper.yaml"
    paper.write_text("source: X\nrows:\n  - {system: T, trials: V1-O, protocol: asym, eer: 4.26, min_dcf: 0.337, "
                     "comparable: 'no'}\n")
    out = tmp_path / "RESULTS.md"
    make_results_spk.main(rows + ["--compare", "good/test/ss:bad/test/ss", "--compare", "good1/test/ss:bad1/test/ss",
                                  "--paper", str(paper), "--out", str(out), "--command", "./run.sh --x"])
    text = out.read_text()
    eers = [json.loads((tmp_path / f"good{k}" / "summary.json").read_text())["trials"]["eer"] for k in (1, 2, 3)]
    assert f"| good1 | test | ss | 1 | {100 * eers[0]:.3f} [" in text and "good_seed2" not in text
    assert f"| good | test | ss | 3 | {100 * np.mean(eers):.3f} [" in text
    assert f"| {' / '.join(f'{100 * e:.3f}' for e in eers)} |" in text               # each seed's EER
    line = next(l for l in text.splitlines() if l.startswith("| good/test/ss | bad/test/ss |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:5] == ["6", "153", "3"] and cells[5].startswith("-") and len(cells[6].split(" / ")) == 3
    assert cells[8] == "A better" and cells[12] == "A better"            # confirmed over 3 seeds, lower is better
    line = next(l for l in text.splitlines() if l.startswith("| good1/test/ss | bad1/test/ss |"))
    assert line.rstrip(" |").endswith("one seed: not a verdict")
    assert "4.260" in text and "./run.sh --x" in text and "margin" not in text.lower()
    spread = text[text.index("## Run-to-run spread"):]   # the largest EER range of a row's seeds, in % points
    bad = [json.loads((tmp_path / f"bad{k}" / "summary.json").read_text())["trials"]["eer"] for k in (1, 2, 3)]
    widest = max(max(e) - min(e) for e in (eers, bad))
    assert f"| EER % [95 % CI] | {100 * widest:.4g} |" in spread and "| MinDCF (P_tgt 0.01) [95 % CI] |" in spread
    with pytest.raises(KdError, match="both sides must be --row labels"):
        make_results_spk.main(rows + ["--compare", "good/test/ss:nope/test/ss", "--out", str(out)])
    (tmp_path / "bad2" / "scores").write_text("".join((tmp_path / "bad2" / "scores").read_text().splitlines(True)[:-1]))
    with pytest.raises(KdError, match=r"bad2/scores: 1 trial\(s\) of .*trials have no score"):
        make_results_spk.main(rows + ["--out", str(tmp_path / "other.md")])
    assert not (tmp_path / "other.md").exists()


def test_make_trials_draws_seeded_speaker_disjoint_trials(tmp_path):
    data, train = tmp_path / "test", tmp_path / "train"
    utts = [(f"s{s}-u{k}", f"s{s}") for s in range(5) for k in range(2 + s)]
    for d, rows in ((data, utts), (train, [("t1", "x1"), ("t2", "x2")])):
        d.mkdir()
        (d / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in sorted(rows)))
        (d / "wav.scp").write_text("".join(f"{u} /nowhere/{u}.wav\n" for u, _ in sorted(rows)))
    spk = dict(utts)
    out = tmp_path / "trials"
    args = ["--data", str(data), "--out", str(out), "--train_data", str(train)]
    make_trials.main(args + ["--num_target", "all", "--num_nontarget", "all"])
    every = out.read_text()
    n = len(utts)
    assert len(every.splitlines()) == n * (n - 1) // 2 and every.count(" target\n") == sum(k * (k - 1) // 2
                                                                                         for k in range(2, 7))
    make_trials.main(args + ["--num_target", "7", "--num_nontarget", "30", "--seed", "4"])
    drawn = out.read_text()
    lines = [l.split() for l in drawn.splitlines()]
    assert sum(l[2] == "target" for l in lines) == 7 and len(lines) == 37 and lines == sorted(lines)
    assert all((spk[e] == spk[t]) == (label == "target") and e < t for e, t, label in lines)
    assert set(drawn.splitlines()) <= set(every.splitlines())
    make_trials.main(args + ["--num_target", "7", "--num_nontarget", "30", "--seed", "4"])
    assert out.read_text() == drawn                                          # seeded
    make_trials.main(args + ["--num_target", "7", "--num_nontarget", "30", "--seed", "5"])
    assert out.read_text() != drawn
    with pytest.raises(KdError, match="100 target trials asked for, but the data dir has only 35"):
        make_trials.main(args + ["--num_target", "100", "--num_nontarget", "30"])
    (train / "utt2spk").write_text("t1 s3\nt2 s1\n")
    with pytest.raises(KdError, match=r"train/utt2spk: 2 speaker\(s\) of .* also in the training data .*: s1, s3"):
        make_trials.main(args + ["--num_target", "7", "--num_nontarget", "30"])


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
