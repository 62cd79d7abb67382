"""Generate a project, train it on real MNIST digits in a subprocess, and check what it learned."""

from __future__ import annotations

import re
import shutil

import pytest

from scaffold.options import Options
from scaffold.project import create
from scaffold.registry import FEATURES, task_metrics

from .conftest import REPO, read_history, run_python

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return create(
        Options(name="mytrainer", metrics=("accuracy", "nll")),
        tmp_path_factory.mktemp("e2e"),
    )


@pytest.fixture(scope="module")
def trained(project, mnist_root):
    result = run_python(
        [
            "-m",
            "mytrainer.train",
            "--data-dir",
            str(mnist_root),
            "--epochs",
            "5",
            "--output-dir",
            "runs",
        ],
        cwd=project,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, read_history(project / "runs" / "metrics.jsonl")


def test_five_epochs_on_4000_digits_reach_96_percent_on_the_1000_held_out(trained):
    _, history = trained
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert history[-1]["accuracy"] >= 0.96, history
    assert 0 < history[-1]["nll"] < history[0]["nll"] or history[-1]["nll"] < 0.2


def test_prints_progress_and_validation_lines(trained):
    result, _ = trained
    assert re.search(
        r"^epoch 1 \[20/32\] loss \d+\.\d{4}$", result.stdout, re.MULTILINE
    )
    assert re.search(
        r"^epoch 5 validation: train_loss \S+  accuracy 0\.9\d+  nll \S+",
        result.stdout,
        re.MULTILINE,
    )


def test_same_seed_repeats_the_run_exactly_on_cpu(project, mnist_root):
    histories = []
    for run in ("a", "b"):
        result = run_python(
            [
                "-m",
                "mytrainer.train",
                "--data-dir",
                str(mnist_root),
                "--epochs",
                "1",
                "--seed",
                "7",
                "--output-dir",
                run,
            ],
            cwd=project,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        rows = read_history(project / run / "metrics.jsonl")
        histories.append(
            [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
        )
    assert histories[0] == histories[1]


# Three runs in one process, Python's random module disturbed before each: the
# draw after a run depends on --seed alone.
SEEDED_RUNS = """
import random
import sys

from mytrainer.train import main

flags = ["--data-dir", sys.argv[1], "--epochs", "1", "--epoch-length", "2"]
for seed, name in (("7", "a"), ("7", "b"), ("8", "c")):
    random.seed(name)
    main([*flags, "--seed", seed, "--output-dir", f"seeded-{name}"])
    print("drawn:", random.random())
"""


def test_seed_sets_pythons_random_module_on_every_run(project, mnist_root):
    (project / "seeded_runs.py").write_text(SEEDED_RUNS)
    result = run_python(["seeded_runs.py", str(mnist_root)], cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    drawn = re.findall(r"^drawn: (\S+)$", result.stdout, re.MULTILINE)
    assert len(drawn) == 3, result.stdout[-2000:]
    assert drawn[0] == drawn[1] != drawn[2]


def test_dataloader_path_trains_too(project, mnist_root):
    result = run_python(
        [
            "-m",
            "mytrainer.train",
            "--data-dir",
            str(mnist_root),
            "--epochs",
            "1",
            "--loader",
            "dataloader",
            "--output-dir",
            "dataloader",
        ],
        cwd=project,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_history(project / "dataloader" / "metrics.jsonl")[0]["accuracy"] > 0.8


@pytest.fixture(scope="module")
def short_runs(project, mnist_root):
    """The first 4 steps of one seed, trained three ways; {flags: the epoch's record}."""
    records = {}
    for flags in ((), ("--no-channels-last",), ("--compile",)):
        out = "short" + "".join(flags)
        result = run_python(
            [
                "-m",
                "mytrainer.train",
                "--data-dir",
                str(mnist_root),
                "--epochs",
                "1",
                "--epoch-length",
                "4",
                "--output-dir",
                out,
                *flags,
            ],
            cwd=project,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        [records[flags]] = read_history(project / out / "metrics.jsonl")
    return records


@pytest.mark.parametrize("flags", [("--no-channels-last",), ("--compile",)])
def test_memory_format_and_compile_change_speed_not_results(short_runs, flags):
    default, other = short_runs[()], short_runs[flags]
    # Four steps from random weights leave the net far from chance on the held-out digits...
    assert default["accuracy"] > 0.3
    # ...and the same steps in another memory order, or compiled, land on the same net up
    # to float rounding.
    assert other["nll"] == pytest.approx(default["nll"], rel=1e-3)
    assert abs(other["accuracy"] - default["accuracy"]) <= 0.003


def test_missing_dataset_is_a_one_line_error_naming_the_folder(project, tmp_path):
    result = run_python(
        [
            "-m",
            "mytrainer.train",
            "--data-dir",
            str(tmp_path / "empty"),
            "--output-dir",
            "missing",
        ],
        cwd=project,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"mnist is not in {tmp_path / 'empty'}/MNIST/raw" in lines[0]


def test_the_seed_write_up_example_runs_unchanged(project, mnist_root):
    shutil.copy(
        REPO / "tests" / "fixtures" / "seed_example.py", project / "seed_example.py"
    )
    result = run_python(["seed_example.py", str(mnist_root)], cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(
        r"^Epoch\[1\] Iteration\[20/63\] Loss: \d+\.\d\d$", result.stdout, re.MULTILINE
    )
    accuracies = [
        float(a)
        for a in re.findall(
            r"Validation Results - Epoch: \d  Avg accuracy: (\d\.\d\d)", result.stdout
        )
    ]
    assert len(accuracies) == 2 and accuracies[-1] >= 0.85, result.stdout[-2000:]


@pytest.mark.parametrize(
    "options",
    [
        Options(name="mytrainer"),
        Options(
            name="mytrainer",
            metrics=task_metrics("classification"),
            **{name: True for name, spec in FEATURES.items() if spec.render_time},
        ),
    ],
    ids=["default", "every-metric-and-feature"],
)
def test_generated_projects_own_tests_pass(tmp_path, options):
    root = create(options, tmp_path)
    result = run_python(["-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root)
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\d+ passed", result.stdout)
