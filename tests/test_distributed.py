"""--distributed: the option, and the generated project trained by torchrun on 2 CPU processes."""

from __future__ import annotations

import json
import re
import struct

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import RECORD_FILE, create, read_record
from scaffold.registry import METRICS
from scaffold.render import render

from .conftest import read_history, run_python

runner = CliRunner()
ALL_METRICS = tuple(METRICS)


def test_new_records_the_option_and_writes_the_module(tmp_path):
    result = runner.invoke(
        app, ["new", "mytrainer", "--distributed", "-o", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    root = tmp_path / "mytrainer"
    assert read_record(root).options.distributed is True
    assert (root / "mytrainer" / "distributed.py").is_file()
    assert (root / "tests" / "test_distributed.py").is_file()
    assert "--distributed" in runner.invoke(app, ["list"]).output


def test_without_the_option_no_python_file_mentions_distribution():
    files = render(Options(name="mytrainer", metrics=ALL_METRICS, cuda=True))
    for path, text in files.items():
        if path.endswith(".py"):
            assert not re.search(
                r"distributed|torchrun|is_main_process|get_rank", text, re.IGNORECASE
            ), path


def test_update_turns_it_on_and_off_in_a_project_recorded_before_the_option(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    record = json.loads((root / RECORD_FILE).read_text())
    del record["options"]["distributed"]  # as written before the option existed
    (root / RECORD_FILE).write_text(json.dumps(record))
    assert read_record(root).options.distributed is False

    result = runner.invoke(app, ["update", str(root), "--distributed"])
    assert result.exit_code == 0, result.output
    assert (root / "mytrainer" / "distributed.py").is_file()
    assert read_record(root).options == Options(name="mytrainer", distributed=True)

    result = runner.invoke(app, ["update", str(root), "--no-distributed"])
    assert result.exit_code == 0, result.output
    assert not (root / "mytrainer" / "distributed.py").exists()
    assert read_record(root).options.distributed is False


# Train under torchrun from a script that keeps each process's model, so that the
# test can evaluate exactly the weights the 2-process run validated.
RECORD_WEIGHTS = """
import os
import sys

import torch

from mytrainer import train

built = []


class RecordedNet(train.Net):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        built.append(self)


train.Net = RecordedNet
train.main(sys.argv[1:])
torch.save(built[0].state_dict(), f"weights-rank{os.environ.get('RANK', 0)}.pt")
"""

# Evaluate saved weights with every metric train.py reports, in one process or,
# under torchrun, each process on its share of the test set.
EVALUATE = """
import json
import sys

import torch
import torch.nn.functional as F

from mytrainer.data import NUM_CLASSES, get_data_loaders
from mytrainer.distributed import cleanup, is_main_process, setup
from mytrainer.metrics import *
from mytrainer.model import Net
from mytrainer.supervised import create_supervised_evaluator

setup(torch.device("cpu"))
model = Net(NUM_CLASSES)
model.load_state_dict(torch.load(sys.argv[2]))
_, test_loader = get_data_loaders("mnist", sys.argv[1], 64, 1000)
metrics = {METRIC_ENTRIES}
values = create_supervised_evaluator(model, metrics=metrics).run(test_loader).metrics
if is_main_process():
    print(json.dumps({k: v.tolist() if torch.is_tensor(v) else v for k, v in values.items()}))
cleanup()
""".replace(
    "METRIC_ENTRIES",
    ", ".join(f'"{name}": {METRICS[name].build}' for name in ALL_METRICS),
)


def torchrun(project, *args, processes=2):
    return run_python(
        [
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
            *args,
        ],
        cwd=project,
        OMP_NUM_THREADS="1",
    )


def write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def read_idx(path):
    data = path.read_bytes()
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim :], dtype=np.uint8).reshape(shape)


@pytest.fixture(scope="module")
def odd_mnist_root(mnist_root, tmp_path_factory):
    """The MNIST sample less one digit per split: 3,999 / 999, odd for 2 processes."""
    source = mnist_root / "MNIST" / "raw"
    raw = tmp_path_factory.mktemp("odd") / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in source.iterdir():
        write_idx(raw / path.name, read_idx(path)[:-1])
    return raw.parent.parent


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    options = Options(name="mytrainer", metrics=ALL_METRICS, distributed=True)
    root = create(options, tmp_path_factory.mktemp("distributed"))
    (root / "record_weights.py").write_text(RECORD_WEIGHTS)
    (root / "evaluate.py").write_text(EVALUATE)
    return root


def evaluate(project, data_root, weights, processes=1):
    args = ["evaluate.py", str(data_root), weights]
    if processes == 1:
        result = run_python(args, cwd=project, OMP_NUM_THREADS="1")
    else:
        result = torchrun(project, *args, processes=processes)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def assert_same_metrics(a, b):
    assert a.keys() == b.keys() == set(ALL_METRICS)
    for name in ALL_METRICS:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6, err_msg=name)


@pytest.fixture(scope="module")
def two_process_run(project, mnist_root):
    args = ["--data-dir", str(mnist_root), "--epochs", "5", "--output-dir", "two"]
    result = torchrun(project, "record_weights.py", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_two_processes_reach_the_single_process_accuracy(project, two_process_run):
    history = read_history(project / "two" / "metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert history[-1]["accuracy"] >= 0.96, history[-1]


@pytest.mark.slow
def test_only_the_main_process_reports_and_writes_files(project, two_process_run):
    stdout = two_process_run.stdout
    assert len(re.findall(r"^epoch \d validation: ", stdout, re.MULTILINE)) == 5, stdout
    # Each process takes 2,000 digits an epoch, 64 a step (the global batch is 128).
    assert (
        len(re.findall(r"^epoch 1 \[20/32\] loss ", stdout, re.MULTILINE)) == 1
    ), stdout
    assert sorted(p.name for p in (project / "two").iterdir()) == ["metrics.jsonl"]


@pytest.mark.slow
def test_validation_equals_one_process_evaluating_the_same_weights(
    project, mnist_root, two_process_run
):
    weights = [torch.load(project / f"weights-rank{rank}.pt") for rank in range(2)]
    # The same model on both processes, BatchNorm statistics included.
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name

    validated = read_history(project / "two" / "metrics.jsonl")[-1]
    validated = {name: validated[name] for name in ALL_METRICS}
    assert_same_metrics(validated, evaluate(project, mnist_root, "weights-rank0.pt"))


@pytest.mark.slow
def test_two_processes_evaluate_999_digits_exactly(
    project, odd_mnist_root, two_process_run
):
    single = evaluate(project, odd_mnist_root, "weights-rank0.pt")
    assert sum(map(sum, single["confusion"])) == 999
    assert_same_metrics(
        evaluate(project, odd_mnist_root, "weights-rank0.pt", processes=2), single
    )


@pytest.mark.slow
def test_dataloader_path_under_torchrun_and_a_plain_single_process(
    project, odd_mnist_root
):
    # 3,999 training digits: the processes leave one out so that they take equal steps.
    args = ["-m", "mytrainer.train", "--data-dir", str(odd_mnist_root), "--epochs", "1"]
    result = torchrun(project, *args, "--loader", "classic", "--output-dir", "classic")
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_history(project / "classic" / "metrics.jsonl")[0]["accuracy"] > 0.8

    result = run_python(
        [*args, "--output-dir", "single"], cwd=project, OMP_NUM_THREADS="1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_history(project / "single" / "metrics.jsonl")[0]["accuracy"] > 0.8


@pytest.mark.slow
def test_resuming_mid_epoch_under_torchrun_reproduces_the_uninterrupted_run(
    tmp_path, mnist_root
):
    root = create(
        Options(name="mytrainer", distributed=True, checkpoint=True), tmp_path
    )
    args = [
        "-m",
        "mytrainer.train",
        "--data-dir",
        str(mnist_root),
        "--epochs",
        "2",
        "--epoch-length",
        "6",
    ]
    whole = torchrun(
        root,
        *args,
        "--checkpoint-every",
        "3",
        "--keep-last",
        "4",
        "--output-dir",
        "whole",
    )
    assert whole.returncode == 0, whole.stderr[-3000:]
    # Iteration 9 is half-way through the second epoch.
    middle = root / "whole" / "checkpoints" / "checkpoint-00000009.pt"
    resumed = torchrun(root, *args, "--resume", str(middle), "--output-dir", "resumed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    assert resumed.stdout.count("resumed from") == 1, resumed.stdout
    expected, got = (
        torch.load(root / run / "checkpoints" / "checkpoint-00000012.pt")
        for run in ("whole", "resumed")
    )
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    # The validation metrics too (the running training loss restarts on resume).
    rows = [
        read_history(root / run / "metrics.jsonl")[-1] for run in ("whole", "resumed")
    ]
    assert [(row["accuracy"], row["nll"]) for row in rows] == [
        (rows[0]["accuracy"], rows[0]["nll"])
    ] * 2


@pytest.mark.slow
def test_the_projects_own_distributed_tests_pass(project):
    tests = ["tests/test_distributed.py", "tests/test_train.py"]
    result = run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=project
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\d+ passed", result.stdout)
