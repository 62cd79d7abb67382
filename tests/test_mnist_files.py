"""An MNIST project reads torchvision's files itself, so that its commands never
import torchvision, whose import takes over a second; what it reads must be
exactly what torchvision.datasets reads."""

from __future__ import annotations

import json

import pytest

from scaffold.options import Options
from scaffold.project import create

from .conftest import run_python

pytestmark = pytest.mark.slow  # runs a generated project

COMPARE = """
import sys

import torch
from torchvision import datasets

from mytrainer.data.mnist import DATASETS, load_split

root = sys.argv[1]
for train in (True, False):
    images, labels = load_split("mnist", root, train)
    dataset = datasets.MNIST(root, train=train, download=False)
    assert images.dtype == dataset.data.dtype and labels.dtype == dataset.targets.dtype
    assert torch.equal(images, dataset.data), train
    assert torch.equal(labels, dataset.targets), train
assert list(DATASETS["mnist"].classes) == datasets.MNIST.classes
assert list(DATASETS["fashion-mnist"].classes) == datasets.FashionMNIST.classes
print(len(images), len(dataset))
"""

# Which modules a command imported, printed when it has finished.
IMPORTED = """
import json
import sys

from mytrainer import {command}

{command}.main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return create(Options(name="mytrainer"), tmp_path_factory.mktemp("mnist"))


def test_the_project_reads_the_same_tensors_and_classes_as_torchvision(
    project, mnist_root
):
    result = run_python(["-c", COMPARE, str(mnist_root)], project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000", "1000"]


def imported(project, command, *args):
    code = IMPORTED.format(command=command)
    result = run_python(["-c", code, *map(str, args)], project)
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in json.loads(result.stdout.splitlines()[-1])}


def test_neither_training_nor_evaluating_imports_torchvision(
    project, mnist_root, tmp_path
):
    out = tmp_path / "run"
    flags = ["--data-dir", mnist_root, "--epoch-length", "3", "--output-dir", out]
    trained = imported(project, "train", *flags)
    assert (out / "model.pt").is_file()
    assert {"torch", "mytrainer"} <= trained
    assert "torchvision" not in trained
    checkpoint = ["--checkpoint", out / "model.pt"]
    evaluated = imported(project, "evaluate", *checkpoint, "--data-dir", mnist_root)
    assert "torch" in evaluated and "torchvision" not in evaluated
