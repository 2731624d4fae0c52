"""The environment record (kdspeech.env): threads, the lock file and its differences, the RESULTS.md block."""

import json
import logging

import pytest

from kdspeech import env as kdenv
from kdspeech.errors import KdError
from kdspeech.results import environment_block

LOCK = """\
# a comment
torch==2.11.0
PyYAML==6.0.4   # trailing comment
numpy==2.4.6
gone==1.0
"""


def test_lock_file_is_read_with_names_normalized(tmp_path):
    path = tmp_path / "requirements.lock"
    path.write_text(LOCK)
    assert kdenv.read_lock(path) == {"torch": ("torch", "2.11.0"), "pyyaml": ("PyYAML", "6.0.4"),
                                     "numpy": ("numpy", "2.4.6"), "gone": ("gone", "1.0")}
    path.write_text("torch>=2\n")
    with pytest.raises(KdError, match="line 1: expected name==version"):
        kdenv.read_lock(path)


def test_differences_name_each_package_that_is_not_the_locked_version(tmp_path):
    path = tmp_path / "requirements.lock"
    path.write_text(LOCK)
    installed = {"torch": ("torch", "2.10.0"), "pyyaml": ("pyyaml", "6.0.4"), "numpy": ("numpy", "2.4.6"),
                 "extra-pkg": ("extra_pkg", "0.1"), "kdspeech": ("kdspeech", "0.1.0")}
    assert kdenv.lock_differences(kdenv.read_lock(path), installed) == [
        "extra_pkg 0.1 (not in the lock)", "gone not installed (lock: 1.0)", "torch 2.10.0 (lock: 2.11.0)"]
    same = {key: value for key, value in kdenv.read_lock(path).items()}
    assert kdenv.lock_differences(kdenv.read_lock(path), same) == []


def test_lock_record_has_the_hash_and_warns_once_per_lock_file(tmp_path, caplog):
    path = tmp_path / "requirements.lock"
    path.write_text(LOCK)
    installed = dict(kdenv.read_lock(path), torch=("torch", "2.10.0"))
    with caplog.at_level(logging.WARNING, logger="kdspeech.env"):
        record = kdenv.lock_record(str(path), installed)
        again = kdenv.lock_record(str(path), installed)
    assert record == again
    assert record["requirements_lock"] == str(path)
    assert record["requirements_lock_sha256"] == kdenv.file_sha256(path) and len(kdenv.file_sha256(path)) == 64
    assert record["lock_differences"] == ["torch 2.10.0 (lock: 2.11.0)"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "torch 2.10.0 (lock: 2.11.0)" in warnings[0]
    assert "lock_differences" not in kdenv.lock_record(str(path), kdenv.read_lock(path))
    assert kdenv.lock_record(str(tmp_path / "absent.lock")) == {}


def test_the_checkout_lock_pins_torch_and_leaves_kdspeech_out():
    locked = kdenv.read_lock(f"{kdenv.repo_root()}/{kdenv.LOCK_FILE}")
    assert locked["torch"][1] == "2.11.0" and locked["torchaudio"][1] == "2.11.0"
    assert "kdspeech" not in locked and len(locked) > 50
    assert kdenv.lock_record()["requirements_lock"] == kdenv.LOCK_FILE


def test_thread_record_and_the_environment_block():
    record = kdenv.thread_record({"OMP_NUM_THREADS": "2", "KDSPEECH_JOBS_AT_ONCE": "3"})
    assert record["omp_num_threads"] == "2" and record["mkl_num_threads"] == "unset"
    assert record["parallel_jobs"] == 3
    assert record["torch_num_threads"] >= 1 and record["torch_num_interop_threads"] >= 1
    env = {"date": "2026-01-01T00:00:00", "git": "abc1234", "torch": "2.11.0", **record,
           "requirements_lock": "tools/requirements.lock", "requirements_lock_sha256": "0123456789abcdef" * 4,
           "lock_differences": ["torch 2.10.0 (lock: 2.11.0)", "gone not installed (lock: 1.0)"]}
    block = environment_block(env, command="run.sh")
    assert (f"- threads: `OMP_NUM_THREADS=2, MKL_NUM_THREADS=unset, torch {record['torch_num_threads']} "
            f"intra-op / {record['torch_num_interop_threads']} inter-op, 3 parallel job(s)`") in block
    assert "- requirements lock: `tools/requirements.lock` (sha256 `0123456789ab`)" in block
    assert ("- WARNING: installed Python packages differ from `tools/requirements.lock` (2): "
            "torch 2.10.0 (lock: 2.11.0); gone not installed (lock: 1.0)") in block
    assert "- torch version: `2.11.0`" in block and "omp_num_threads" not in block


def test_environment_is_json_and_records_threads_and_the_lock():
    info = json.loads(json.dumps(kdenv.environment(["x"])))
    for key in ("omp_num_threads", "torch_num_threads", "torch_num_interop_threads", "requirements_lock_sha256"):
        assert key in info, key
