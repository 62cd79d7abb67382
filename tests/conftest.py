"""Shared fixtures: the real MNIST sample on disk and helpers that write rendered projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scripts.datasets import mnist_sample

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT_ENV = "SCAFFOLD_TEST_DATA"  # reuse a prepared folder across runs


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory) -> Path:
    """A data root holding 4,000/1,000 real MNIST digits in torchvision's raw layout."""
    root = Path(os.environ.get(DATA_ROOT_ENV) or tmp_path_factory.mktemp("data"))
    mnist_sample(root)
    return root


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
