"""Shared fixtures: the real MNIST sample on disk, the built wheel, a running
`scaffold ui` server, and helpers that write rendered projects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from scaffold.ui.server import UiServer, start
from scripts.datasets import mnist_sample

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT_ENV = "SCAFFOLD_TEST_DATA"  # reuse a prepared folder across runs


# The files that take longest, started first: two workers (pyproject.toml's -n 2)
# then end together, instead of one working through a long file alone at the end.
LONGEST_FIRST = (
    "test_segmentation.py",
    "test_generated_tests_matrix.py",
    "test_distributed.py",
    "test_imagefolder.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    # A stable sort: each file's tests keep their order.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A data root holding 4,000/1,000 real MNIST digits in torchvision's raw layout."""
    root = Path(os.environ.get(DATA_ROOT_ENV) or tmp_path_factory.mktemp("data"))
    mnist_sample(root)
    return root


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The wheel `pip wheel` builds from this checkout, offline."""
    folder = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--quiet", "--wheel-dir", str(folder), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_NO_INDEX": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (built,) = folder.glob("*.whl")
    return built


@pytest.fixture
def serve(tmp_path):
    """serve(project=None) -> a running `scaffold ui` server writing into
    tmp_path/out, shut down after the test."""
    servers: list[UiServer] = []

    def running(project: Path | None = None) -> UiServer:
        server = start(tmp_path / "out", project)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield running
    for server in servers:
        server.shutdown()
        server.server_close()


# What a training checkpoint holds, by key: every object a run needs to go on.
@pytest.fixture
def take_ctrl_c():
    """Children started in the test take SIGINT as Ctrl-C: a suite started as a
    background job inherits SIGINT ignored, which its children inherit in turn
    (Python then never raises KeyboardInterrupt); a handled signal is reset to
    its default in a child."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


CHECKPOINT_KEYS = (
    *("model", "optimizer", "scheduler", "scaler", "trainer", "running_loss"),
    *("gradients", "random_states", "model_card"),
)
# The line after a generated program's error about its flags (exit 2).
HELP_HINT = "--help lists every flag and its default"


def one_error_line(stderr: str, status: int) -> str:
    """The `error:` line a train script that refused to run ended with, after
    checking it said nothing else but, for a flag (exit 2), where to look: no
    usage block, never a traceback."""
    assert "Traceback" not in stderr, stderr
    first, *rest = stderr.strip().splitlines()
    assert first.startswith("error: "), stderr
    assert rest == ([HELP_HINT] if status == 2 else []), stderr
    return first


def read_history(path: Path) -> list[dict]:
    """The rows of a run's metrics.jsonl, one per epoch."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def run_python(args: list[str], cwd: Path, timeout: float = 600, **env: str):
    """Run python in a generated project, with the project root importable."""
    environment = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONHASHSEED": "0", **env}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
