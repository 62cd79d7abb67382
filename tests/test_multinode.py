"""Two machines' worth of torchrun on one: two agents (--nnodes=2) meet at a c10d
rendezvous on 127.0.0.1 and train one run, as the README's two-node command does.

It must be the run that one agent with two processes (--standalone) trains on the
same digits with the same seed: the same weights, the same validation metrics in
one metrics file, each validation digit counted once.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create

from .conftest import one_error_line, read_history, run_python
from .slurm_cluster import free_ports

pytestmark = pytest.mark.slow  # trains

TRAIN_ARGS = ["--epochs", "1", "--epoch-length", "16"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return create(Options(name="mytrainer"), tmp_path_factory.mktemp("multinode"))


def train_args(mnist_root, output_dir):
    flags = ["--data-dir", str(mnist_root), *TRAIN_ARGS, "--output-dir", output_dir]
    return ["-m", "mytrainer.train", *flags]


def test_two_agents_on_two_nodes_train_the_standalone_run(project, mnist_root):
    [port] = free_ports(1)
    rendezvous = [
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}",
        "--rdzv-id=two-nodes",
    ]
    environment = {"PYTHONPATH": str(project), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", *rendezvous]
    agents = [
        subprocess.Popen(
            [*command, *train_args(mnist_root, "two-nodes")],
            cwd=project,
            env={**os.environ, **environment},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [agent.communicate(timeout=300) for agent in agents]
    for agent, (_, stderr) in zip(agents, outputs, strict=True):
        assert agent.returncode == 0, stderr[-3000:]
    standalone = run_python(
        [
            *("-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"),
            *train_args(mnist_root, "standalone"),
        ],
        cwd=project,
        OMP_NUM_THREADS="1",
    )
    assert standalone.returncode == 0, standalone.stderr[-3000:]

    # One history, printed by rank 0 alone.
    printed = [stdout.count("epoch 1 validation: ") for stdout, _ in outputs]
    assert sorted(printed) == [0, 1], printed
    two_nodes = read_history(project / "two-nodes" / "metrics.jsonl")
    single = read_history(project / "standalone" / "metrics.jsonl")
    assert len(two_nodes) == len(single) == 1
    for name in ("accuracy", "nll", "train_loss"):
        assert two_nodes[0][name] == single[0][name], name
    weights = [
        torch.load(project / run / "model.pt", weights_only=True)["state_dict"]
        for run in ("two-nodes", "standalone")
    ]
    assert weights[0].keys() == weights[1].keys()
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


# A process whose peers never join: torch waits 30 minutes before it gives up, 2 s
# here.
LONELY_PROCESS = """
import datetime
import sys

import torch.distributed.distributed_c10d as c10d

from mytrainer import train

c10d.default_pg_timeout = datetime.timedelta(seconds=2)
train.main(sys.argv[1:])
"""


def test_a_process_whose_peers_never_join_ends_with_one_error_line(project, mnist_root):
    # What torchrun's agents do themselves (their rendezvous, join_timeout) never
    # reaches the program: the README says what to do. A process started as
    # torchrun starts one, but alone, does.
    (project / "lonely_process.py").write_text(LONELY_PROCESS)
    [port] = free_ports(1)
    result = run_python(
        ["lonely_process.py", "--data-dir", str(mnist_root)],
        cwd=project,
        RANK="0",
        LOCAL_RANK="0",
        WORLD_SIZE="2",
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )

    assert result.returncode == 1
    line = one_error_line(result.stderr, 1)
    assert line.startswith(
        f"error: process 0 of 2 could not join the others at 127.0.0.1:{port}: "
    ), line
    assert "1/2 clients joined" in line
