"""Multi-node DDP on one machine: two launchers (--num_nodes 2, c10d rendezvous on localhost, gloo,
one rank per node) train the weights of one launcher with two ranks; the Slurm path (utils/train.sh
through utils/slurm.py, a stand-in sbatch and srun) does the same from its multi-node job script."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import kdspeech
from enh_fixtures import make_mix_dir
from test_jobs import FAKE_SBATCH
from test_trainer_accum import CONF as ACCUM_CONF

REPO = Path(kdspeech.__file__).resolve().parents[1]
# batch 2 per rank, no BatchNorm (per-rank statistics are the one legitimate difference), on the CPU
CONF = ACCUM_CONF.replace("num_threads: 1}", "num_threads: 1, device: cpu}")
# Stand-in for srun in a K-node allocation on this one machine: the command once per node, all at
# once, each with its SLURM_NODEID, the allocation's node list (scontrol below expands it).
FAKE_SRUN = """\
#!/bin/sh
echo "srun: $*" >> "$FAKE_SBATCH_RECORD.srun"
pids=""
i=0
while [ "$i" -lt "${FAKE_NODES:-1}" ]; do
  SLURM_NODEID=$i SLURM_JOB_NODELIST='node[1-2]' "$@" &
  pids="$pids $!"
  i=$((i + 1))
done
rc=0
for pid in $pids; do wait "$pid" || rc=1; done
exit $rc
"""
FAKE_SCONTROL = '#!/bin/sh\n[ "$1 $2 $3" = "show hostnames node[1-2]" ] || exit 1\nprintf "localhost\\nlocalhost\\n"\n'


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("multinode")
    (root / "conf.yaml").write_text(CONF)
    make_mix_dir(root / "train", n=8)
    make_mix_dir(root / "valid", n=4, seed=1)
    return root


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTER_", "SLURM_"))}
    env.update(OMP_NUM_THREADS="1", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra)
    return env


def _train_cmd(root, out_dir, *launcher_args):
    return [str(REPO / "utils/launch.py"), "--ngpu", "0", *launcher_args, "--", "python", "-m",
            "kdspeech.bin.train", "--config", str(root / "conf.yaml"), "--train_data", str(root / "train"),
            "--valid_data", str(root / "valid"), "--out_dir", str(out_dir), "--seed", "3"]


def _weights(exp):
    return torch.load(exp / "checkpoints/last.pth", map_location="cpu", weights_only=False)["model"]


@pytest.fixture(scope="module")
def one_node(setup):
    """The reference: one launcher, two ranks."""
    out = setup / "one_node"
    proc = subprocess.run(_train_cmd(setup, out, "--nproc", "2"), capture_output=True, text=True,
                          env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_two_launchers_as_two_nodes_equal_one_node_with_two_ranks(setup, one_node):
    out = setup / "two_nodes"
    cmd = _train_cmd(setup, out, "--num_nodes", "2", "--rdzv_endpoint", f"localhost:{_free_port()}")
    nodes = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
             for _ in range(2)]
    errs = [node.communicate(timeout=300)[1] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(e[-2000:] for e in errs)
    assert all("--nnodes 2 --nproc_per_node 1 --rdzv_backend c10d" in e for e in errs)
    assert json.loads((out / "env.json").read_text())["world_size"] == 2
    a, b = _weights(one_node), _weights(out)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    ha, hb = (json.loads((d / "history.json").read_text()) for d in (one_node, out))
    assert [h["valid_loss"] for h in hb] == pytest.approx([h["valid_loss"] for h in ha], rel=1e-5)


def test_slurm_multi_node_job_trains_like_one_node(setup, one_node, tmp_path):
    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "utils").symlink_to(REPO / "utils")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    record = tmp_path / "sbatch.args"
    env = _env(cuda_cmd="utils/slurm.py", FAKE_SBATCH_RECORD=str(record), FAKE_NODES="2",
               MASTER_PORT=str(_free_port()))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    env.pop("KDSPEECH_STAGE", None)
    out = recipe / "exp" / "ddp"
    proc = subprocess.run(["utils/train.sh", "--ngpu", "0", "--num_nodes", "2", "--seed", "3",
                           str(setup / "conf.yaml"), str(setup / "train"), str(setup / "valid"), str(out)],
                          cwd=recipe, capture_output=True, text=True, env=env, timeout=300)
    log = (out / "log/train.log").read_text() if (out / "log/train.log").exists() else ""
    assert proc.returncode == 0, proc.stderr[-2000:] + log[-3000:]
    [args] = [json.loads(line) for line in record.read_text().splitlines()]
    assert args[args.index("--nodes") + 1] == "2" and args[args.index("--ntasks-per-node") + 1] == "1"
    script = Path(args[-1]).read_text()
    assert "srun bash -c" in script and "--num_nodes 2" in script
    # every node's launcher found the first node of the allocation and the job's rendezvous
    assert log.count("--nnodes 2 --nproc_per_node 1 --rdzv_backend c10d --rdzv_endpoint localhost:") == 2
    assert log.count("--rdzv_id 4243") == 2
    a, b = _weights(one_node), _weights(out)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
