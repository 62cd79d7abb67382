"""A throwaway Slurm cluster on this machine: munged, slurmctld and one slurmd per
node, all on 127.0.0.1, with their configuration, state and logs in one folder.

Debian's slurm-wlm is built to run several slurmd on one host (`slurmd -N NAME`),
each emulating a node with a port of its own. The daemons run in the foreground as
children of the test process and are stopped by their process ids.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
APT_PACKAGES = "slurm-wlm munge"


def missing_daemons() -> list[str]:
    return [name for name in DAEMONS if not _find(name)]


def _find(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, distinct (held open until all are chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


SLURM_CONF = """\
ClusterName=scaffoldtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={controller_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: a requeued job waits this long (default 120 s) before it starts.
AuthInfo=socket={root}/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool/%n
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd-%n.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in a container: processes are tracked by their parents.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
# Look for jobs to start every 2 s, not every minute: a requeued job waits for it.
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# The nodes say they have the CPUs written here, whatever this machine has.
SlurmdParameters=config_overrides
ReturnToService=2
# Quick turnaround: a requeued job may start again at once, time limits are
# checked often, and a killed job's processes get a short grace.
MinJobAge=5
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=20
{nodes}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    """Start with Cluster(folder, nodes).start(); `env` is what Slurm's commands
    need to talk to it; stop() ends every daemon started."""

    def __init__(self, folder: Path, nodes=("n1", "n2"), cpus: int = 1):
        self.root = folder
        self.nodes = nodes
        self.cpus = cpus
        self.processes: list[subprocess.Popen] = []
        self.conf = folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> Cluster:
        for sub in ("state", "spool", "munge"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            (self.root / "spool" / node).mkdir(exist_ok=True)
        self._write_config()
        try:
            self._start_munge()
            self._spawn(
                [_find("slurmctld"), "-D", "-i", "-f", str(self.conf)], "slurmctld.out"
            )
            for node in self.nodes:
                self._spawn(
                    [_find("slurmd"), "-D", "-N", node, "-f", str(self.conf)],
                    f"slurmd-{node}.out",
                )
            self._wait_idle(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_config(self) -> None:
        controller_port, *node_ports = free_ports(1 + len(self.nodes))
        nodes = "\n".join(
            f"NodeName={node} NodeAddr=127.0.0.1 NodeHostname=localhost Port={port} "
            f"CPUs={self.cpus} State=UNKNOWN"
            for node, port in zip(self.nodes, node_ports, strict=True)
        )
        self.conf.write_text(
            SLURM_CONF.format(
                root=self.root, controller_port=controller_port, nodes=nodes
            )
        )

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        command = [
            _find("munged"),
            "--foreground",
            "--force",
            f"--socket={self.root}/munge.socket",
            f"--key-file={key}",
            f"--pid-file={self.root}/munge/munged.pid",
            f"--log-file={self.root}/munge/munged.log",
            f"--seed-file={self.root}/munge/munged.seed",
        ]
        self._spawn(command, "munged.out")
        deadline = time.monotonic() + 10
        while not (self.root / "munge.socket").exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"munged did not start: {self.log('munged.out')}")
            time.sleep(0.05)

    def _spawn(self, command: list[str], log: str) -> None:
        with open(self.root / log, "ab") as out:
            self.processes.append(
                subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,  # no Ctrl-C from the terminal
                )
            )

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = self.node_states()
            if states and all(state == "idle" for state in states.values()):
                return
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{process.args[0]} exited with {process.returncode}:\n"
                        + self.logs()
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(f"nodes not idle: {states}\n" + self.logs())
            time.sleep(0.2)

    def node_states(self) -> dict[str, str]:
        result = self.command("sinfo", "--noheader", "--Node", "--format=%N %t")
        if result.returncode:
            return {}
        return dict(line.split() for line in result.stdout.splitlines())

    def command(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args),
            env={**self.env, **kwargs.pop("env", {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=kwargs.pop("timeout", 30),
            **kwargs,
        )

    def job(self, job_id: str) -> dict[str, str]:
        """The job's fields as `scontrol show job` gives them."""
        result = self.command("scontrol", "show", "job", job_id, "--oneliner")
        return dict(re.findall(r"(\w+)=(\S*)", result.stdout))

    def wait(self, job_id: str, timeout: float) -> dict[str, str]:
        """Wait for the job to end; its fields then."""
        deadline = time.monotonic() + timeout
        while True:
            fields = self.job(job_id)
            if fields.get("JobState") in ENDED:
                return fields
            if time.monotonic() > deadline:
                self.command("scancel", job_id)
                raise TimeoutError(f"job {job_id} still {fields.get('JobState')}")
            time.sleep(0.5)

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def logs(self) -> str:
        names = ["slurmctld.log", *(f"slurmd-{node}.log" for node in self.nodes)]
        return "\n".join(f"--- {name}\n{self.log(name)}" for name in names)

    def stop(self) -> None:
        # The nodes first, so that none is left with jobs and no controller.
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}
