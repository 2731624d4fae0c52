"""utils/launch.py: one process as is, several through torchrun with a rendezvous endpoint."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kdspeech

REPO = Path(kdspeech.__file__).resolve().parents[1]
TRAIN = ["python", "-m", "kdspeech.bin.train", "--conf", "conf/train.yaml"]


def launch(*args, cwd=None, extra_path=None, **env_vars):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MASTER_", "SLURM_"))}
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env.update(env_vars, PATH=f"{extra_path}:{path}" if extra_path else path)
    return subprocess.run([str(REPO / "utils/launch.py"), *args], capture_output=True, text=True,
                          env=env, cwd=cwd)


def test_single_process_command_is_kept():
    out = launch("--ngpu", "1", "--num_nodes", "1", "--print", "--", *TRAIN)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == TRAIN


def test_several_gpus_use_torchrun_with_the_master_endpoint():
    out = launch("--ngpu", "4", "--num_nodes", "2", "--print", "--", *TRAIN,
                 MASTER_ADDR="node1", MASTER_PORT="31000")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "torchrun", "--nnodes", "2", "--nproc_per_node", "4", "--rdzv_backend", "c10d",
        "--rdzv_endpoint", "node1:31000", "-m", "kdspeech.bin.train", "--conf", "conf/train.yaml"]


def test_under_slurm_the_first_node_and_a_job_port_are_used(tmp_path):
    scontrol = tmp_path / "scontrol"
    scontrol.write_text('#!/bin/sh\n[ "$1 $2 $3" = "show hostnames gpu[07-08]" ] || exit 1\n'
                        'printf "gpu07\\ngpu08\\n"\n')
    scontrol.chmod(0o755)
    out = launch("--ngpu", "2", "--num_nodes", "2", "--print", "--", *TRAIN, extra_path=tmp_path,
                 SLURM_JOB_NODELIST="gpu[07-08]", SLURM_JOB_ID="123456")
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[words.index("--rdzv_endpoint") + 1] == "gpu07:29956"
    assert words[words.index("--nnodes") + 1] == "2"


def test_cpu_nodes_run_one_process_each_at_the_given_endpoint():
    out = launch("--ngpu", "0", "--num_nodes", "2", "--rdzv_endpoint", "node1:29400", "--print", "--", *TRAIN)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:10] == ["torchrun", "--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend",
                                       "c10d", "--rdzv_endpoint", "node1:29400", "-m"]
    out = launch("--ngpu", "0", "--num_nodes", "2", "--rdzv_endpoint", "node1", "--print", "--", *TRAIN)
    assert out.returncode == 2 and "--rdzv_endpoint must be HOST:PORT, got 'node1'" in out.stderr


def test_under_slurm_the_job_id_names_the_rendezvous():
    out = launch("--ngpu", "1", "--num_nodes", "2", "--print", "--", *TRAIN, MASTER_ADDR="node1",
                 SLURM_JOB_ID="77")
    words = out.stdout.split()
    assert words[words.index("--rdzv_endpoint") + 1] == "node1:29577"
    assert words[words.index("--rdzv_id") + 1] == "77"


def test_nproc_without_gpus_picks_a_local_port():
    out = launch("--ngpu", "0", "--nproc", "3", "--print", "--", *TRAIN)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[:5] == ["torchrun", "--nnodes", "1", "--nproc_per_node", "3"]
    host, port = words[words.index("--rdzv_endpoint") + 1].split(":")
    assert host == "localhost" and 0 < int(port) < 65536


@pytest.mark.parametrize("args, message", [
    (["--ngpu", "2", "--", "bash", "train.sh"], "python -m <module>"),
    (["--ngpu", "2", "--num_nodes", "2", "--", *TRAIN],
     "needs --rdzv_endpoint HOST:PORT, or MASTER_ADDR and MASTER_PORT"),
    (["--ngpu", "1"], "no command given"),
])
def test_errors(args, message):
    out = launch(*args)
    assert out.returncode == 2
    assert message in out.stderr


def test_single_process_is_exec_ed():
    out = launch("--ngpu", "0", "--", "python", "-c", "import os; print('pid', os.getpid())")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pid ")
    assert "launch.py: python -c" in out.stderr


def test_cpu_processes_through_torchrun(tmp_path):
    """Two CPU processes really start, with their ranks (what gloo DDP tests rely on)."""
    (tmp_path / "rankprobe.py").write_text(
        "import os, sys\n"
        "with open(os.path.join(sys.argv[1], 'rank' + os.environ['RANK']), 'w') as f:\n"
        "    f.write(os.environ['WORLD_SIZE'] + ' ' + os.environ['LOCAL_RANK'])\n")
    out = launch("--ngpu", "0", "--nproc", "2", "--", "python", "-m", "rankprobe", str(tmp_path),
                 cwd=tmp_path, PYTHONPATH=str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rank0").read_text() == "2 0"
    assert (tmp_path / "rank1").read_text() == "2 1"


PROBE = ["python", "-c", "import os; print('visible', repr(os.environ.get('CUDA_VISIBLE_DEVICES')))"]


def test_no_gpu_means_no_visible_gpu():
    """--ngpu 0 trains on the CPU even where a GPU is visible (the trainer's device: auto)."""
    out = launch("--ngpu", "0", "--", *PROBE, CUDA_VISIBLE_DEVICES="0,1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "visible ''"
    assert "launch.py: --ngpu 0, on the CPU: CUDA_VISIBLE_DEVICES=''" in out.stderr
    out = launch("--ngpu", "1", "--", *PROBE, CUDA_VISIBLE_DEVICES="0,1")
    assert out.stdout.strip() == "visible '0,1'"   # GPUs asked for: left as the job runner set them


def test_no_gpu_ddp_ranks_see_no_gpu(tmp_path):
    (tmp_path / "gpuprobe.py").write_text(
        "import os, sys\n"
        "with open(os.path.join(sys.argv[1], 'rank' + os.environ['RANK']), 'w') as f:\n"
        "    f.write(repr(os.environ.get('CUDA_VISIBLE_DEVICES')))\n")
    out = launch("--ngpu", "0", "--nproc", "2", "--", "python", "-m", "gpuprobe", str(tmp_path),
                 cwd=tmp_path, PYTHONPATH=str(tmp_path), CUDA_VISIBLE_DEVICES="0")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rank0").read_text() == (tmp_path / "rank1").read_text() == "''"
