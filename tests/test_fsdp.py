"""--strategy fsdp: two CPU processes (gloo) train one model sharded with FSDP2.

Two processes that shard the model must take the steps of one process training
on the same global batches, save model.pt and checkpoints whole (predict reads
them as it reads a single process's), and resume mid-epoch to the uninterrupted
run's weights. BatchNorm normalizes each process's share of a batch on its own,
so that no sharding could match one process; the runs here train the project's
Net without it (the programs run through WITHOUT_BATCHNORM).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scaffold.options import Options
from scaffold.project import create

from .conftest import read_history, run_python
from .test_distributed import read_idx, torchrun

pytestmark = pytest.mark.slow  # trains

# Runs one of the project's programs (train, predict) on its models less BatchNorm.
WITHOUT_BATCHNORM = """
import runpy
import sys

from torch import nn

from mytrainer import model
from mytrainer.model import build

build_model = build.build_model


def without_batchnorm(*args, **kwargs):
    network = build_model(*args, **kwargs)
    for parent in list(network.modules()):
        for name, child in parent.named_children():
            if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
                setattr(parent, name, nn.Identity())
    return network


build.build_model = model.build_model = without_batchnorm
program, sys.argv[1:] = sys.argv[1], sys.argv[2:]
runpy.run_module(f"mytrainer.{program}", run_name="__main__", alter_sys=True)
"""

# 4,000 digits in global batches of 64: 6 iterations an epoch, an optimizer step
# every 2 (so that checkpoints at 3 and 9 hold half-summed gradients). AdamW's
# first steps move each weight by about the learning rate whatever the gradient's
# size: a low one keeps the rounding of sums in another order under 1e-5.
TRAIN_ARGS = [
    *("--lr", "0.002"),
    *("--epochs", "2"),
    *("--epoch-length", "6"),
    *("--batch-size", "64"),
    *("--accumulate", "2"),
    *("--checkpoint-every", "3"),
    *("--keep-last", "4"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = create(
        Options(name="mytrainer", checkpoint=True), tmp_path_factory.mktemp("fsdp")
    )
    (root / "without_batchnorm.py").write_text(WITHOUT_BATCHNORM)
    return root


def train(project, mnist_root, output_dir, *flags, processes):
    args = ["without_batchnorm.py", "train", "--data-dir", str(mnist_root)]
    args += [*TRAIN_ARGS, "--output-dir", output_dir, *flags]
    if processes == 1:
        result = run_python(args, cwd=project, OMP_NUM_THREADS="1")
    else:
        result = torchrun(project, *args, processes=processes)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def single_run(project, mnist_root):
    # With nothing to share the model among, fsdp trains it whole.
    return train(project, mnist_root, "single", "--strategy", "fsdp", processes=1)


@pytest.fixture(scope="module")
def sharded_run(project, mnist_root):
    return train(project, mnist_root, "sharded", "--strategy", "fsdp", processes=2)


def load(project, path):
    return torch.load(project / path, weights_only=True)


def assert_close(expected, got, atol):
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(got[name], tensor, rtol=0, atol=atol, msg=name)


def test_two_sharded_processes_take_the_single_process_steps(
    project, single_run, sharded_run
):
    warnings = [line for line in single_run.stdout.splitlines() if "fsdp" in line]
    expected = (
        "warning: --strategy fsdp shares the model among torchrun's processes; "
        "this single process trains it whole"
    )
    assert warnings == [expected]
    assert "warning" not in sharded_run.stdout
    # Saved whole: the names and shapes of the single process's model.
    single, sharded = (load(project, f"{run}/last.pt") for run in ("single", "sharded"))
    assert_close(single["state_dict"], sharded["state_dict"], atol=1e-5)
    first_steps = load(project, "single/checkpoints/checkpoint-00000003.pt")["model"]
    moved = [(single["state_dict"][k] - v).abs().max() for k, v in first_steps.items()]
    assert max(moved) > 1e-3  # the comparison is of weights that trained
    histories = [
        read_history(project / run / "metrics.jsonl") for run in ("single", "sharded")
    ]
    for one, two in zip(*histories, strict=True):
        assert two["accuracy"] == pytest.approx(one["accuracy"], abs=2e-3)


def test_resumed_mid_epoch_the_sharded_run_ends_with_the_uninterrupted_weights(
    project, mnist_root, sharded_run
):
    middle = "sharded/checkpoints/checkpoint-00000009.pt"
    assert load(project, middle)["gradients"]  # half-way to an optimizer step
    flags = ["--strategy", "fsdp", "--resume", middle]
    result = train(project, mnist_root, "resumed", *flags, processes=2)

    assert "resumed from" in result.stdout and "at iteration 9" in result.stdout
    expected, got = (
        load(project, f"{run}/checkpoints/checkpoint-00000012.pt")
        for run in ("sharded", "resumed")
    )
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    for number, state in expected["optimizer"]["state"].items():
        for key, tensor in state.items():
            assert torch.equal(got["optimizer"]["state"][number][key], tensor), key


def test_predict_reads_the_sharded_runs_model(
    project, mnist_root, single_run, sharded_run
):
    digits = read_idx(mnist_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte")[:20]
    (project / "digits").mkdir()
    for index, digit in enumerate(digits):
        Image.fromarray(np.asarray(digit)).save(project / "digits" / f"{index:02d}.png")
    args = ["without_batchnorm.py", "predict", "--checkpoint", "sharded/model.pt"]
    result = run_python([*args, "digits"], cwd=project, OMP_NUM_THREADS="1")

    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [Path(row[0]).name for row in rows] == [f"{i:02d}.png" for i in range(20)]
    # The file holds what one process saves, which predict reads already.
    single, sharded = (
        load(project, f"{run}/model.pt") for run in ("single", "sharded")
    )
    assert {row[1] for row in rows} <= set(sharded["classes"])
    assert sharded.keys() == single.keys() and sharded["epoch"] == single["epoch"]
    assert_close(single["state_dict"], sharded["state_dict"], atol=1e-5)
