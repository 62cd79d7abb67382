"""Faults around a generated project's runs lose nothing: a second run
into the folder of a first, a resume that does not fit the run it continues, a
metrics.jsonl torn by a kill, a dataset that is missing and cannot be downloaded.

Two projects train a few short first runs in one process: one that checkpoints
(package mytrainer) and one that cannot resume (package plaintrainer), so that
both can be imported there; test_run_bad_input.py runs the project with every
feature. The tests then copy those runs' folders, damage the copies as each fault
would, and run every second run in one more process; downloads there go to a
proxy that refuses them. The first runs also show what a run prints off a
terminal, and the plot's grid.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create
from scaffold.registry import task_metrics

from .conftest import HELP_HINT, read_history, run_python

pytestmark = pytest.mark.slow  # trains, or runs a generated program

# The features that a resumed run reads or writes.
RESUMABLE = Options(
    name="mytrainer", checkpoint=True, early_stopping=True, progress=True
)
# Every metric for a plot of seven panels; plotting costs a second a run.
PLAIN = Options(name="plaintrainer", metrics=task_metrics("classification"), plot=True)
LOSS_LINE = re.compile(r"^epoch \d+ \[\d+/3\] loss \d+\.\d{4}$", re.MULTILINE)
NO_NETWORK = {
    name: "http://127.0.0.1:9"  # the discard port: every connection is refused
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
} | {"no_proxy": "", "NO_PROXY": ""}
SHORT = ["--device", "cpu", "--epoch-length", "3"]

# Runs main(argv) of the given package for each run, one after another, as
# `python -m <package>.train` would (a SystemExit("message") is printed to stderr
# with status 1), and prints each run's status, stdout and stderr as JSON.
RUN_EACH = r"""
import contextlib
import importlib
import io
import json
import sys
import traceback

results = {}
for run in json.loads(sys.argv[1]):
    train = importlib.import_module(f"{run['package']}.train")
    sys.argv[0] = train.__file__
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            train.main(run["argv"])
            status = 0
        except SystemExit as exit:
            status = exit.code
            if isinstance(status, str):
                print(status, file=sys.stderr)
                status = 1
        except BaseException:
            traceback.print_exc()
            status = 1
    results[run["id"]] = {
        "status": status, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()
    }
print(json.dumps(results))
"""


def run_each(projects, runs, **env):
    """{id: {status, stdout, stderr}} of runs [(id, package, argv)], in one process."""
    steps = [{"id": id, "package": package, "argv": argv} for id, package, argv in runs]
    result = run_python(
        ["-c", RUN_EACH, json.dumps(steps)],
        cwd=projects.runs,
        PYTHONPATH=os.pathsep.join(str(root) for root in projects.roots),
        **env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root: its bytes, or None for a folder."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def one_error_line(run) -> str:
    assert "Traceback" not in run["stderr"], run["stderr"]
    [line] = run["stderr"].strip().splitlines()
    return line


class Projects(NamedTuple):
    roots: list[Path]  # each project's root, importable together
    runs: Path  # holds the folder of every run
    data: Path  # the MNIST sample

    def argv(self, output_dir, *flags):
        """A short run into runs/output_dir."""
        folders = [
            "--data-dir",
            str(self.data),
            "--output-dir",
            str(self.runs / output_dir),
        ]
        return [*folders, *SHORT, *flags]


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory, mnist_root):
    """The two projects and their first runs: 2 epochs of the default onecycle
    schedule (`first`, which logs every iteration), 1 of cosine, 1 of step; 1
    epoch of the plain project. Returns (projects, {run: result})."""
    root = tmp_path_factory.mktemp("run-faults")
    roots = [create(RESUMABLE, root), create(PLAIN, root)]
    (root / "runs").mkdir()
    projects = Projects(roots, root / "runs", mnist_root)
    first = projects.argv("first", "--epochs", "2", "--log-interval", "1")
    results = run_each(
        projects,
        [
            ("first", "mytrainer", first),
            ("cosine", "mytrainer", projects.argv("cosine", "--scheduler", "cosine")),
            ("step", "mytrainer", projects.argv("step", "--scheduler", "step")),
            ("plain", "plaintrainer", projects.argv("plain")),
        ],
    )
    for name, run in results.items():
        assert run["status"] == 0, (name, run["stderr"][-3000:])
    return projects, results


def tear_the_last_line(run_dir: Path):
    """Leave metrics.jsonl as a kill in the middle of writing its last row would:
    that row cut short, and a half-written temporary file beside it."""
    history = run_dir / "metrics.jsonl"
    *kept, last = history.read_bytes().splitlines(keepends=True)
    history.write_bytes(b"".join(kept) + last[: len(last) // 2])
    (run_dir / "metrics.jsonl.tmp").write_bytes(b"".join(kept) + last[:10])


def another_models_checkpoint(path: Path):
    """A file with every part of a checkpoint, whose weights fit another model."""
    state = {key: {} for key in torch.load(path, weights_only=True)}
    state["model"] = torch.nn.Linear(2, 2).state_dict()
    torch.save(state, path)


@pytest.fixture(scope="module")
def second_runs(first_runs):
    """Copies of the first runs' folders, damaged as each fault would leave them,
    and the second runs into them. Returns (projects, {folder: its bytes before the
    second run}, {run id: result})."""
    projects, _ = first_runs
    root = projects.runs
    copies = {
        "refused": "first",
        "refused-plain": "plain",
        "longer": "first",
        "other-epoch-length": "first",
        "cosine-longer": "cosine",
        "step-longer": "step",
        "torn": "first",
        "fallback": "first",
    }
    for copy, run in copies.items():
        shutil.copytree(root / run, root / copy)
    # Killed while writing epoch 2's row: its checkpoints were never written.
    for path in (root / "torn/checkpoints").glob("*-00000006*"):
        path.unlink()
    tear_the_last_line(root / "torn")
    for path in (root / "fallback/checkpoints").glob("*-00000006*"):
        another_models_checkpoint(path)
    partial = root / "partial-data/MNIST/raw"  # a download cut short, and a note
    partial.mkdir(parents=True)
    source = projects.data / "MNIST/raw/train-images-idx3-ubyte"
    (partial / source.name).write_bytes(source.read_bytes()[:1000])
    (root / "partial-data/notes.txt").write_text("mine\n")
    before = {copy: snapshot(root / copy) for copy in [*copies, "partial-data"]}

    resume = ["--resume", "last"]
    # Each second run writes to the folder of its name.
    second = [
        ("refused", "mytrainer", ["--epochs", "2"]),
        ("refused-plain", "plaintrainer", []),
        ("longer", "mytrainer", ["--epochs", "3", *resume]),
        (
            "other-epoch-length",
            "mytrainer",
            ["--epochs", "2", "--epoch-length", "4", *resume],
        ),
        (
            "cosine-longer",
            "mytrainer",
            ["--scheduler", "cosine", "--epochs", "2", *resume],
        ),
        ("step-longer", "mytrainer", ["--scheduler", "step", "--epochs", "2", *resume]),
        ("torn", "mytrainer", ["--epochs", "2", *resume]),
        ("fallback", "mytrainer", ["--epochs", "2", *resume]),
        ("missing-data", "mytrainer", ["--data-dir", str(root / "nonexistent/dir")]),
        ("failed-download", "mytrainer", ["--data-dir", str(root / "partial-data")]),
    ]
    runs = [(id, package, projects.argv(id, *flags)) for id, package, flags in second]
    results = run_each(projects, runs, **NO_NETWORK)
    return projects, before, results


# What the error line says to do, after "<folder> holds an earlier run's results; ".
REMEDIES = {
    "refused": "continue that run with --resume last, or choose another folder",
    "refused-plain": "choose another folder, or move that one away",
}


@pytest.mark.parametrize("run", REMEDIES)
def test_a_new_run_refuses_the_folder_of_an_earlier_one_before_any_work(
    second_runs, run
):
    projects, before, results = second_runs
    folder = projects.runs / run
    assert results[run]["status"] == 2
    error = f"argument --output-dir: {folder} holds an earlier run's results"
    assert results[run]["stderr"].strip().splitlines() == [
        f"error: {error}; {REMEDIES[run]}",
        HELP_HINT,
    ]
    assert results[run]["stdout"] == ""  # not a dataset read, not a model built
    assert snapshot(folder) == before[run]


# What the error line says after "<the checkpoint resumed from> ".
PLAN_CHANGES = {
    "longer": (
        "is from a 2-epoch run, over which its onecycle schedule anneals: resume it "
        "with --epochs 2, or train longer in a new run"
    ),
    "cosine-longer": (
        "is from a 1-epoch run, over which its cosine schedule anneals: resume it "
        "with --epochs 1, or train longer in a new run"
    ),
    "other-epoch-length": (
        "is from a run of 3 iterations an epoch, not 4: resume it with that run's "
        "--epoch-length and --batch-size"
    ),
}


@pytest.mark.parametrize("run", PLAN_CHANGES)
def test_a_resume_that_would_change_the_runs_plan_is_refused_and_changes_nothing(
    second_runs, run
):
    projects, before, results = second_runs
    folder = projects.runs / run
    assert results[run]["status"] == 1
    newest = max((folder / "checkpoints").glob("checkpoint-*.pt"))
    assert one_error_line(results[run]) == f"error: {newest} {PLAN_CHANGES[run]}"
    assert "resumed from" not in results[run]["stdout"]
    assert snapshot(folder) == before[run]


def test_a_step_schedule_extends_to_more_epochs_on_resume(second_runs):
    projects, _, results = second_runs
    assert results["step-longer"]["status"] == 0, results["step-longer"]["stderr"]
    assert "at iteration 3" in results["step-longer"]["stdout"]
    history = read_history(projects.runs / "step-longer/metrics.jsonl")
    first = read_history(projects.runs / "step/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert history[0] == first[0]


def without_seconds(row):
    return {name: value for name, value in row.items() if name != "seconds"}


def test_a_metrics_file_torn_by_a_kill_is_mended_by_resume_last(second_runs):
    projects, before, results = second_runs
    run = results["torn"]
    assert run["status"] == 0, run["stderr"]
    assert run["stderr"] == ""
    assert "resumed from" in run["stdout"] and "at iteration 3" in run["stdout"]
    folder = projects.runs / "torn"
    text = (folder / "metrics.jsonl").read_bytes()
    first_row = before["torn"]["metrics.jsonl"].splitlines(keepends=True)[0]
    assert text.startswith(first_row), "the row kept was rewritten"
    rows, uninterrupted = read_history(folder / "metrics.jsonl"), read_history(
        projects.runs / "first/metrics.jsonl"
    )
    assert [row["epoch"] for row in rows] == [1, 2]
    # An exact resume: epoch 2 again, with the uninterrupted run's numbers.
    assert without_seconds(rows[1]) == pytest.approx(without_seconds(uninterrupted[1]))
    assert not (folder / "metrics.jsonl.tmp").exists()


def test_resume_last_falls_back_to_the_newest_checkpoint_that_fits(second_runs):
    projects, _, results = second_runs
    run = results["fallback"]
    assert run["status"] == 0, run["stderr"]
    newest = projects.runs / "fallback/checkpoints/checkpoint-00000006.pt"
    assert f"warning: {newest} does not fit this run's model" in run["stdout"]
    assert "trying the one before" in run["stdout"]
    assert "at iteration 3" in run["stdout"]
    history = read_history(projects.runs / "fallback/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]


def test_a_data_dir_that_does_not_exist_is_left_uncreated(second_runs):
    projects, _, results = second_runs
    run = results["missing-data"]
    assert run["status"] == 1
    raw = projects.runs / "nonexistent/dir/MNIST/raw"
    assert one_error_line(run).startswith(
        f"error: mnist is not in {raw} (as readable IDX files, e.g. "
        "train-images-idx3-ubyte) and downloading it failed: "
    )
    assert not (projects.runs / "nonexistent").exists()
    assert not (projects.runs / "missing-data").exists()


def test_a_failed_download_leaves_the_data_folder_as_it_was(second_runs):
    projects, before, results = second_runs
    run = results["failed-download"]
    assert run["status"] == 1
    assert one_error_line(run).endswith("; copy the files there, or retry online")
    assert snapshot(projects.runs / "partial-data") == before["partial-data"]
    assert not (projects.runs / "failed-download").exists()


def test_progress_off_a_terminal_prints_the_loss_lines_instead_of_a_bar(first_runs):
    _, results = first_runs
    run = results["first"]
    assert run["stderr"] == "", "a bar was drawn off a terminal"
    assert len(LOSS_LINE.findall(run["stdout"])) == 6  # 2 epochs of 3 iterations


def test_the_plot_lays_seven_curves_out_in_a_grid_of_three_columns(first_runs):
    from PIL import Image

    projects, results = first_runs
    image_path = projects.runs / "plain/training_curves.png"
    assert f"training curves: {image_path}" in results["plain"]["stdout"]
    with Image.open(image_path) as image:
        # train_loss and six one-number metrics: 3 rows of 4 by 3.2 inches, 100 dpi.
        assert (image.format, image.size) == ("PNG", (1200, 960))
