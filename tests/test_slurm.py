"""slurm/train.sbatch on a real Slurm cluster of two nodes, started on this machine.

The cluster (munged, slurmctld and a slurmd for each of the nodes n1 and n2, all
on 127.0.0.1) comes from Debian's slurm-wlm and munge, which `scripts/install.sh
--tests` installs. Every job trains the same project on the same digits with the
same flags, so the jobs that were disturbed (a training process killed, the
warning Slurm sends before a time limit) must end with the weights of the job
that was not.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import create, read_record

from .conftest import read_history
from .slurm_cluster import APT_PACKAGES, Cluster, missing_daemons

# The cluster's tests start one and train on it.
slow = pytest.mark.slow
runner = CliRunner()

# 2 x 16 iterations of 128 digits (64 a process on two nodes), a checkpoint every
# 4: small enough for two cores, long enough to be disturbed in the middle.
TRAIN_ARGS = [
    *("--epochs", "2"),
    *("--epoch-length", "16"),
    *("--checkpoint-every", "4"),
    *("--keep-last", "2"),
]
LAST_ITERATION = 32


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_daemons()
    if missing:
        reason = (
            f"needs {', '.join(missing)}: apt-get install {APT_PACKAGES} "
            "(bash scripts/install.sh --tests)"
        )
        if os.environ.get("CI") == "true" or os.geteuid() == 0:
            pytest.fail(reason)  # CI and root can install them: a missing one is a bug
        pytest.skip(reason)
    if os.geteuid() != 0:
        pytest.skip("runs slurmd, which needs root")
    folder = tmp_path_factory.mktemp("slurm")
    folder.chmod(0o700)  # munged refuses a folder others can write to
    started = Cluster(folder, nodes=("n1", "n2"), cpus=2).start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    options = Options(name="mytrainer", checkpoint=True, slurm=True)
    return create(options, tmp_path_factory.mktemp("slurm-project"))


def test_update_adds_and_removes_the_batch_script(tmp_path):
    root = create(Options(name="mytrainer", checkpoint=True), tmp_path)
    script = root / "slurm" / "train.sbatch"

    result = runner.invoke(app, ["update", str(root), "--slurm"])
    assert result.exit_code == 0, result.output
    assert read_record(root).options.slurm is True
    assert "-m mytrainer.train " in script.read_text()
    assert "slurm/train.sbatch" in (root / "README.md").read_text()

    result = runner.invoke(app, ["update", str(root), "--no-slurm"])
    assert result.exit_code == 0, result.output
    assert not script.exists()
    assert "slurm/train.sbatch" not in (root / "README.md").read_text()


def submit(cluster, project, mnist_root, *sbatch_args, **env):
    """Submit slurm/train.sbatch with TRAIN_ARGS; the job's id."""
    result = cluster.command(
        "sbatch",
        "--parsable",
        f"--chdir={project}",
        f"--output={project}/slurm-%j.out",
        *sbatch_args,
        "slurm/train.sbatch",
        *("--data-dir", str(mnist_root), *TRAIN_ARGS),
        env={
            # The job's python and torchrun are this one's.
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "PYTHONHASHSEED": "0",
            **env,
        },
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def finished(cluster, project, job_id, timeout=120):
    """Wait for the job; its log, after checking that it completed."""
    fields = cluster.wait(job_id, timeout)
    log = (project / f"slurm-{job_id}.out").read_text()
    assert fields["JobState"] == "COMPLETED", f"{fields}\n{log}\n{cluster.logs()}"
    return log


def final_weights(project, job_id):
    path = project / "runs" / f"slurm-{job_id}" / "checkpoints"
    checkpoint = path / f"checkpoint-{LAST_ITERATION:08d}.pt"
    return torch.load(checkpoint, weights_only=True)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), name


def training_pids(job_id, rank):
    """Process ids of the job's training process of this global rank."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # ended, or not ours to read
        wanted = {f"SLURM_JOB_ID={job_id}".encode(), f"RANK={rank}".encode()}
        if wanted <= set(environ) and b"mytrainer.train" in cmdline:
            found.append(int(entry.name))
    return found


def wait_for_checkpoint(run_folder, timeout=90):
    deadline = time.monotonic() + timeout
    while not any((run_folder / "checkpoints").glob("checkpoint-*.pt")):
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def two_node_job(cluster, project, mnist_root):
    job_id = submit(cluster, project, mnist_root, "--nodes=2")
    return job_id, finished(cluster, project, job_id)


@slow
def test_a_two_node_job_trains_one_run_with_a_process_on_each_node(
    project, two_node_job
):
    job_id, log = two_node_job
    assert re.search(
        rf"job {job_id} \(restart 0\) on n\[1-2\]: 1 process\(es\) a node, "
        r"rendezvous at 127\.0\.0\.1:\d+",
        log,
    ), log
    run = project / "runs" / f"slurm-{job_id}"
    assert [row["epoch"] for row in read_history(run / "metrics.jsonl")] == [1, 2]
    assert (run / "model.pt").is_file() and (run / "last.pt").is_file()
    # One run, reported once: rank 0 alone prints and writes.
    assert len(re.findall(r"^epoch 2 validation: ", log, re.MULTILINE)) == 1, log
    assert len(re.findall(r"^best accuracy ", log, re.MULTILINE)) == 1, log


@slow
def test_a_one_node_job_runs_two_processes_on_its_cpus(
    cluster, project, mnist_root, two_node_job
):
    job_id = submit(
        cluster,
        project,
        mnist_root,
        "--nodes=1",
        "--cpus-per-task=2",
        NPROC_PER_NODE="2",
    )
    log = finished(cluster, project, job_id)
    assert re.search(rf"job {job_id} \(restart 0\) on n[12]: 2 process", log), log
    run = project / "runs" / f"slurm-{job_id}"
    assert [row["epoch"] for row in read_history(run / "metrics.jsonl")] == [1, 2]
    assert (run / "model.pt").is_file()
    # Two processes on one node train the run that one on each of two nodes did.
    assert_same_weights(
        final_weights(project, job_id), final_weights(project, two_node_job[0])
    )


@slow
def test_a_killed_process_is_restarted_and_the_run_resumes(
    cluster, project, mnist_root, two_node_job
):
    job_id = submit(cluster, project, mnist_root, "--nodes=2", MAX_RESTARTS="1")
    wait_for_checkpoint(project / "runs" / f"slurm-{job_id}")
    [pid] = training_pids(job_id, rank=1)
    os.kill(pid, signal.SIGKILL)

    log = finished(cluster, project, job_id)
    # Every process of the restarted round resumed: none refused the folder.
    assert not re.search(r"^error:", log, re.MULTILINE), log
    resumed = re.findall(r"^resumed from \S+checkpoint-\d+\.pt", log, re.MULTILINE)
    assert len(resumed) == 1, log
    assert_same_weights(
        final_weights(project, job_id), final_weights(project, two_node_job[0])
    )


@slow
def test_at_the_time_limit_warning_the_job_checkpoints_requeues_and_resumes(
    cluster, project, mnist_root, two_node_job
):
    job_id = submit(cluster, project, mnist_root, "--nodes=2")
    wait_for_checkpoint(project / "runs" / f"slurm-{job_id}")
    # What Slurm does --signal's seconds before the time limit.
    result = cluster.command("scancel", "--batch", "--signal=USR1", job_id)
    assert result.returncode == 0, result.stderr

    log = finished(cluster, project, job_id)
    assert "USR1: stopped at iteration" in log, log
    assert f"job {job_id}: checkpointed before the time limit; requeued" in log, log
    assert f"job {job_id} (restart 1)" in log, log
    assert not re.search(r"^error:", log, re.MULTILINE), log
    assert re.search(r"resumed from \S+checkpoint-\d+\.pt at iteration \d+", log), log
    assert_same_weights(
        final_weights(project, job_id), final_weights(project, two_node_job[0])
    )


@slow
def test_a_rendezvous_port_in_use_is_one_error_line(
    cluster, project, mnist_root, two_node_job
):
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        job_id = submit(cluster, project, mnist_root, RDZV_PORT=str(port))
        fields = cluster.wait(job_id, timeout=60)
    assert fields["JobState"] == "FAILED", fields
    log = (project / f"slurm-{job_id}.out").read_text()
    [line] = log.strip().splitlines()
    assert re.fullmatch(
        rf"error: rendezvous port {port} on n[12] is in use; unset RDZV_PORT or "
        "choose another",
        line,
    ), log
    assert not (project / "runs" / f"slurm-{job_id}").exists()
