"""Every utterance is decoded on its own, by both ASR backends: the same 20 AN4 utterances (shared
corpora) decoded forward and in reverse by one backend object, through the scoring verb with --nj 1 and
--nj 2, and by a --nj 1 job killed half-way and resumed, give the same hypotheses and score files.
Pocketsphinx used to carry its front end (noise statistics, cepstral mean) from one utterance to the
next, so that 3 of these 20 hypotheses changed with the order."""

import shutil

import pytest
import soundfile as sf

from kdspeech.asr import build_backend
from kdspeech.bin import score
from kdspeech.data.datadir import write_kv
from kdspeech.errors import KdError

N_UTTS = 20


def an4_twenty(corpora, root):
    """The first 20 transcribed AN4 utterances (by id) as a data dir ``root`` (wav.scp, text)."""
    src = corpora / "asr" / "an4"
    text = dict(line.split(maxsplit=1) for line in (src / "text").read_text().splitlines())
    wavs = dict(line.split() for line in (src / "wav.list").read_text().splitlines())
    utts = sorted(u for u in text if u in wavs)[:N_UTTS]
    root.mkdir(parents=True)
    write_kv(root / "wav.scp", {u: str(src / wavs[u]) for u in utts})
    write_kv(root / "text", {u: text[u] for u in utts})
    return [(u, *sf.read(src / wavs[u], dtype="float32")) for u in utts]


def backend_or_skip(name):
    try:
        return build_backend(name)
    except KdError as err:
        if "install" in str(err):
            pytest.skip(str(err))
        raise


def run_jobs(data, out, name, nj, jobs=None):
    common = ["--est_scp", str(data / "wav.scp"), "--text", str(data / "text"), "--out_dir", str(out),
              "--metrics", "wer,cer", "--asr_backend", name, "--nj", str(nj)]
    for job in jobs or range(1, nj + 1):
        score.main(common + ["--job", str(job)])
    score.main(common + ["--merge"])
    return (out / "hyp.txt").read_text(), (out / "scores.tsv").read_text()


@pytest.mark.parametrize("name", ["pocketsphinx", "moonshine"])
def test_hypotheses_do_not_depend_on_order_jobs_or_resume(corpora, tmp_path, name):
    asr = backend_or_skip(name)
    data = tmp_path / "data"
    utts = an4_twenty(corpora, data)

    one_job = run_jobs(data, tmp_path / "nj1", name, 1)          # forward, in id order
    forward = dict(line.partition(" ")[::2] for line in one_job[0].splitlines())
    assert len(forward) == N_UTTS and sum(bool(h) for h in forward.values()) >= N_UTTS - 2
    reverse = {utt: asr.transcribe(x, sr) for utt, x, sr in reversed(utts)}   # one decoder, backwards
    assert {u: reverse[u] for u in forward} == forward

    assert run_jobs(data, tmp_path / "nj2", name, 2) == one_job   # job 2 starts half-way, fresh

    # killed half-way through the --nj 1 job, while writing the next hypothesis; then resumed
    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "nj1" / "split", resumed / "split")
    half = N_UTTS // 2
    scores = (resumed / "split" / "scores.1.tsv").read_text().splitlines(keepends=True)
    (resumed / "split" / "scores.1.tsv").write_text("".join(scores[:1 + half]))
    hyps = (resumed / "split" / "hyp.1.txt").read_text().splitlines(keepends=True)
    (resumed / "split" / "hyp.1.txt").write_text("".join(hyps[:half]) + hyps[half][:8])
    assert run_jobs(data, resumed, name, 1) == one_job
