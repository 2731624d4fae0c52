"""Training launcher behind ``utils/launch.py``: one process, or torchrun for several.

    utils/launch.py --ngpu G --num_nodes M [--nproc P] [--rdzv_endpoint HOST:PORT] [--print] \\
        -- python -m kdspeech.bin.train ...

With one process (G <= 1, M == 1, no --nproc) the command is exec'ed as it is.  Otherwise
``python -m <module> args`` becomes

    torchrun --nnodes M --nproc_per_node max(G, P, 1) --rdzv_backend c10d \\
             --rdzv_endpoint HOST:PORT [--rdzv_id $SLURM_JOB_ID] -m <module> args

HOST:PORT is --rdzv_endpoint, else HOST is $MASTER_ADDR, else under Slurm the first host of
$SLURM_JOB_NODELIST, else localhost, and PORT is $MASTER_PORT, else under Slurm 29500 +
$SLURM_JOB_ID % 1000 (the same on every node of the job), else, on one node, a free local port (so
that two runs on one machine do not collide).  Several nodes outside Slurm need the endpoint: start
the same command on every node (``--num_nodes 2 --rdzv_endpoint node1:29400``, or MASTER_ADDR and
MASTER_PORT); the c10d rendezvous ranks them, the first to reach the endpoint's host holding the store.
Under Slurm the job id names the rendezvous, so two jobs never join each other's.  Each node runs
max(G, P) processes, at least one (``--ngpu 0``: one CPU process per node, gloo).  --nproc P starts P
processes without GPUs (CPU DDP with gloo, for tests).  The final command is printed on stderr;
--print prints it on stdout instead of running it.

``--ngpu 0`` means the CPU: the command runs with ``CUDA_VISIBLE_DEVICES=`` (empty), so that a
trainer on ``device: auto`` cannot pick a GPU that happens to be visible.
"""

import argparse
import os
import shlex
import socket
import subprocess
import sys

from kdspeech.errors import KdError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="launch.py",
        usage="launch.py [--ngpu G] [--num_nodes M] [--nproc P] [--rdzv_endpoint HOST:PORT] [--print] -- command...",
        description="Run a training command as one process, or through torchrun for several.",
    )
    parser.add_argument("--ngpu", type=int, default=1, help="GPUs per node (default 1)")
    parser.add_argument("--num_nodes", "--num-nodes", type=int, default=1, help="nodes (default 1)")
    parser.add_argument("--nproc", type=int, default=None,
                        help="processes per node regardless of GPUs (CPU DDP tests)")
    parser.add_argument("--rdzv_endpoint", "--rdzv-endpoint", default=None, metavar="HOST:PORT",
                        help="rendezvous endpoint (default: $MASTER_ADDR:$MASTER_PORT, Slurm's first node, "
                        "or a free local port on one node)")
    parser.add_argument("--print", dest="dry_run", action="store_true",
                        help="print the final command on stdout instead of running it")
    return parser


def single_process(ngpu, num_nodes, nproc):
    return ngpu <= 1 and num_nodes == 1 and nproc is None


def split_python_module(command):
    """``python -m module args`` -> (module, args); KdError for any other command."""
    if len(command) >= 3 and os.path.basename(command[0]).startswith("python") \
            and command[1] == "-m":
        return command[2], command[3:]
    raise KdError("several processes need a command of the form 'python -m <module> args...', "
                  f"got: {shlex.join(command)}")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def master_host(env):
    if env.get("MASTER_ADDR"):
        return env["MASTER_ADDR"]
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if nodelist:
        try:
            out = subprocess.run(["scontrol", "show", "hostnames", nodelist],
                                 capture_output=True, text=True, check=True, timeout=30)
            hosts = out.stdout.split()
            if hosts:
                return hosts[0]
        except (OSError, subprocess.SubprocessError):
            pass
        print(f"launch.py: cannot expand SLURM_JOB_NODELIST={nodelist} with scontrol; "
              "using localhost", file=sys.stderr)
    return "localhost"


def master_port(env, num_nodes):
    if env.get("MASTER_PORT"):
        return int(env["MASTER_PORT"])
    if env.get("SLURM_JOB_ID", "").isdigit():
        return 29500 + int(env["SLURM_JOB_ID"]) % 1000
    if num_nodes > 1:
        raise KdError("multi-node training outside Slurm needs --rdzv_endpoint HOST:PORT, or MASTER_ADDR "
                      "and MASTER_PORT")
    return _free_port()


def endpoint_of(text):
    """``HOST:PORT`` of --rdzv_endpoint, checked."""
    host, _, port = (text or "").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise KdError(f"--rdzv_endpoint must be HOST:PORT, got '{text}'")
    return f"{host}:{port}"


def final_command(ngpu, num_nodes, nproc, command, env, endpoint=None):
    """The command to exec for ``command`` (a list of words) on ``num_nodes`` x ``ngpu``."""
    if not command:
        raise KdError("no command given (put it after --)")
    if ngpu < 0 or num_nodes < 1 or (nproc is not None and nproc < 1):
        raise KdError("--ngpu must be >= 0, --num_nodes and --nproc >= 1")
    if single_process(ngpu, num_nodes, nproc):
        return list(command)
    module, args = split_python_module(command)
    per_node = max(ngpu, nproc or 0, 1)
    endpoint = endpoint_of(endpoint) if endpoint else f"{master_host(env)}:{master_port(env, num_nodes)}"
    rdzv_id = ["--rdzv_id", env["SLURM_JOB_ID"]] if env.get("SLURM_JOB_ID", "").isdigit() else []
    return ["torchrun", "--nnodes", str(num_nodes), "--nproc_per_node", str(per_node),
            "--rdzv_backend", "c10d", "--rdzv_endpoint", endpoint, *rdzv_id, "-m", module, *args]


def device_env(ngpu):
    """Environment variables the command runs with: no visible GPU for ``ngpu == 0``."""
    return {"CUDA_VISIBLE_DEVICES": ""} if ngpu == 0 else {}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--" in argv:
        at = argv.index("--")
        ours, command = argv[:at], argv[at + 1:]
    else:
        ours, command = argv, []
    parser = build_parser()
    opts = parser.parse_args(ours)
    try:
        final = final_command(opts.ngpu, opts.num_nodes, opts.nproc, command, os.environ, opts.rdzv_endpoint)
    except KdError as err:
        parser.error(str(err))
    line = shlex.join(final)
    if opts.dry_run:
        print(line)
        return 0
    extra = device_env(opts.ngpu)
    os.environ.update(extra)
    if extra:
        shown = " ".join(f"{key}={shlex.quote(value)}" for key, value in extra.items())
        print(f"launch.py: --ngpu 0, on the CPU: {shown}", file=sys.stderr)
    print(f"launch.py: {line}", file=sys.stderr, flush=True)
    try:
        os.execvp(final[0], final)
    except OSError as err:
        print(f"launch.py: cannot run {final[0]}: {err}", file=sys.stderr)
        return 127
