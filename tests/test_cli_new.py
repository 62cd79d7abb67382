"""`scaffold new` and `scaffold list` through Typer's CliRunner: every option, every bad input."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app
from scaffold.registry import DATA_KINDS, DEFAULT_TASK, METRICS, TASKS, task_metrics

runner = CliRunner()


def new(tmp_path: Path, *args: str):
    return runner.invoke(app, ["new", *args, "--output-dir", str(tmp_path)])


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_new_writes_the_project_and_its_record(tmp_path):
    result = new(tmp_path, "mytrainer", "--metrics", "accuracy,nll", "--cuda")

    assert result.exit_code == 0, result.output
    root = tmp_path / "mytrainer"
    for path in [
        "engine/engine.py",
        "engine/supervised.py",
        "model/net.py",
        "data/mnist.py",
        "train.py",
    ]:
        assert (root / "mytrainer" / path).is_file()
    assert (root / "mytrainer" / "metrics" / "accuracy.py").is_file()
    assert (root / "mytrainer" / "metrics" / "loss.py").is_file()
    assert not (root / "mytrainer" / "metrics" / "topk.py").exists()
    record = json.loads((root / ".scaffold.json").read_text())
    assert record["scaffold_version"] == __version__
    assert len(record["templates_fingerprint"]) == 16
    assert record["options"] == {
        "name": "mytrainer",
        "task": "classification",
        "data": "mnist",
        "metrics": ["accuracy", "nll"],
        "cuda": True,
        "distributed": False,
        "checkpoint": False,
        "early_stopping": False,
        "scheduler": "onecycle",
        "amp": False,
        "progress": False,
        "tensorboard": False,
        "mlflow": False,
        "wandb": False,
        "sweep": False,
        "plot": False,
        "slurm": False,
    }


def test_default_metrics_are_accuracy_and_nll_without_cuda(tmp_path):
    assert new(tmp_path, "mytrainer").exit_code == 0
    record = json.loads((tmp_path / "mytrainer" / ".scaffold.json").read_text())
    assert record["options"]["metrics"] == ["accuracy", "nll"]
    assert record["options"]["cuda"] is False


def test_metric_order_on_the_command_line_does_not_change_the_output(tmp_path):
    assert (
        new(tmp_path / "a", "mytrainer", "--metrics", "nll,topk,accuracy").exit_code
        == 0
    )
    assert (
        new(tmp_path / "b", "mytrainer", "--metrics", "accuracy, topk ,nll").exit_code
        == 0
    )
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


def test_output_is_byte_identical_across_processes(tmp_path):
    for folder in ("a", "b"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scaffold",
                "new",
                "mytrainer",
                "--metrics",
                "f1,accuracy",
                "-o",
                str(tmp_path / folder),
            ],
            check=True,
            capture_output=True,
        )
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["mytrainer", "--metrics", "accuracy,bogus"],
            "unknown metric 'bogus'; choose from "
            + ", ".join(task_metrics(DEFAULT_TASK)),
        ),
        (
            ["mytrainer", "--metrics", "accuracy,accuracy"],
            "metric 'accuracy' is listed more than once",
        ),
        (["mytrainer", "--metrics", ""], "--metrics is empty; choose from accuracy"),
        (["mytrainer", "--metrics", "accuracy,,nll"], "has an empty entry"),
        (["my-trainer"], "not a valid Python package name (try 'my_trainer')"),
        (["2fast"], "not a valid Python package name"),
        (["class"], "is a Python keyword"),
        (["torch"], "would shadow the module 'torch'"),
        (["test"], "would shadow the module 'test'"),
        (["json"], "would shadow the module 'json'"),
    ],
)
def test_bad_input_is_one_line_error_and_writes_nothing(tmp_path, args, message):
    result = new(tmp_path, *args)

    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_every_metric_and_data_kind_in_the_registry_is_offered_by_list():
    result = runner.invoke(app, ["list"])

    assert result.exit_code == 0
    for spec in [*METRICS.values(), *DATA_KINDS.values()]:
        assert f"{spec.name}  " in result.output and spec.summary in result.output
    assert "--cuda" in result.output


def test_list_shows_the_tasks_and_under_each_only_its_data_kinds_and_metrics():
    result = runner.invoke(app, ["list"])

    assert result.exit_code == 0
    lines = result.output.splitlines()
    listed = lines[1 : lines.index(next(line for line in lines if "--data" in line))]
    assert [line.split()[0] for line in listed] == list(TASKS)
    for task in TASKS.values():
        data = lines.index(f"data of {task.name} (--data KIND):")
        metrics = lines.index(f"metrics of {task.name} (--metrics a,b,...):")
        end = next(
            (i for i in range(metrics + 1, len(lines)) if not lines[i].startswith(" ")),
            len(lines),
        )
        kinds = [line.split()[0] for line in lines[data + 1 : metrics]]
        assert kinds == [k for k, spec in DATA_KINDS.items() if spec.task == task.name]
        names = [line.split()[0] for line in lines[metrics + 1 : end]]
        assert names == [n for n, spec in METRICS.items() if task.name in spec.tasks]
        defaults = [
            line.split()[0] for line in lines[data + 1 : end] if "[default]" in line
        ]
        assert sorted(defaults) == sorted([task.data, *task.metrics])


def test_new_says_how_to_train_each_kind_of_data(tmp_path):
    for kind in DATA_KINDS.values():
        result = new(tmp_path, f"p_{kind.name}", "--data", kind.name)
        assert result.exit_code == 0, result.output
        assert result.stdout.endswith(
            f"python -m p_{kind.name}.train --data-dir {kind.data_dir}\n"
        )


def test_refuses_a_non_empty_directory_without_force(tmp_path):
    (tmp_path / "mytrainer").mkdir()
    (tmp_path / "mytrainer" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)

    result = new(tmp_path, "mytrainer", "--metrics", "topk")

    assert result.exit_code == 1
    assert "is not empty; pass --force" in result.stderr
    assert snapshot(tmp_path) == before


def test_force_rewrites_generated_files_and_keeps_the_users(tmp_path):
    root = tmp_path / "mytrainer"
    (root / "mytrainer" / "model").mkdir(parents=True)
    (root / "notes.txt").write_text("mine")
    (root / "mytrainer" / "model" / "net.py").write_text("broken")

    result = new(tmp_path, "mytrainer", "--metrics", "accuracy,topk", "--force")

    assert result.exit_code == 0, result.output
    assert (root / "notes.txt").read_text() == "mine"
    assert "class Net" in (root / "mytrainer" / "model" / "net.py").read_text()
    assert (root / "mytrainer" / "metrics" / "topk.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mytrainer"]  # no staging


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
def test_new_over_a_scaffold_project_refuses_and_points_to_update(tmp_path, force):
    assert new(tmp_path, "mytrainer").exit_code == 0
    root = tmp_path / "mytrainer"
    (root / "mytrainer" / "model" / "net.py").write_text("# my edits\n")
    before = snapshot(tmp_path)

    result = new(tmp_path, "mytrainer", "--metrics", "topk", *force)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {root} is already a scaffold project")
    assert f"`scaffold update {root}` merges" in result.stderr
    assert result.stderr.count("\n") == 1
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "hint"),
    [("café", " (try 'cafe')"), ("Ünï-côdé", " (try 'uni_code')"), ("中文", "")],
)
def test_a_non_ascii_name_is_refused_with_an_ascii_suggestion_or_none(
    tmp_path, name, hint
):
    result = new(tmp_path, name)

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: project name {name!r} is not a valid Python package name{hint}\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_name_too_long_for_the_file_system_is_refused_before_writing(tmp_path):
    output = tmp_path / "out"  # does not exist yet, and must not be created
    result = new(output, "a" * 250)

    assert result.exit_code == 1
    limit = os.pathconf(tmp_path, "PC_NAME_MAX") - len(".-") - 8
    assert result.stderr == (
        f"error: project name is 250 characters long; at most {limit} fit in a "
        f"file name on the file system of {tmp_path}\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_name_limit_counts_the_staging_folder(tmp_path, monkeypatch):
    """With a 20-byte file system limit, .NAME-xxxxxxxx fits a 10-letter name."""
    real = os.pathconf
    monkeypatch.setattr(
        os,
        "pathconf",
        lambda path, name: 20 if name == "PC_NAME_MAX" else real(path, name),
    )
    assert new(tmp_path, "a" * 11).exit_code == 1
    assert list(tmp_path.iterdir()) == []
    result = new(tmp_path, "a" * 10)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_generated_files_get_the_modes_the_umask_gives(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert new(tmp_path / "a", "mytrainer").exit_code == 0
        forced = tmp_path / "b" / "mytrainer"
        forced.mkdir(parents=True)
        (forced / "notes.txt").write_text("mine")
        assert new(tmp_path / "b", "mytrainer", "--force").exit_code == 0
        root = tmp_path / "a" / "mytrainer"
        updated = runner.invoke(app, ["update", str(root), "--metrics", "topk"])
        assert updated.exit_code == 0, updated.output
    finally:
        os.umask(old)
    for root in (tmp_path / "a" / "mytrainer", forced):
        modes = {
            path.relative_to(root).as_posix(): stat.S_IMODE(path.stat().st_mode)
            for path in [root, *root.rglob("*")]
            if path.name != "notes.txt"
        }
        assert modes, root
        for path, mode in modes.items():
            expected = 0o777 if (root / path).is_dir() else 0o666
            assert mode == expected & ~umask, (path, oct(mode))


@pytest.mark.parametrize(
    "command", [[], ["new"], ["list"], ["update"], ["diff"], ["check"]]
)
def test_help_shows_no_value_for_flags(command):
    result = runner.invoke(app, [*command, "--help"], terminal_width=100)

    assert result.exit_code == 0
    assert "<bool>" not in result.output
    assert re.search(
        r"^  --help +Show this message and exit\.$", result.output, re.MULTILINE
    )
    if command in (["new"], ["update"], ["diff"]):
        assert "--cuda / --no-cuda  " in result.output


def test_diff_previews_an_option_change_and_changes_nothing(tmp_path):
    assert new(tmp_path, "mytrainer").exit_code == 0
    root = tmp_path / "mytrainer"
    before = snapshot(root)

    result = runner.invoke(app, ["diff", str(root), "--metrics", "accuracy,nll,topk"])

    assert result.exit_code == 0, result.output
    assert "--- /dev/null\n+++ b/mytrainer/metrics/topk.py\n" in result.stdout
    assert snapshot(root) == before
    # What it shows is what update then does.
    subprocess.run(
        ["git", "apply", "-"], input=result.stdout_bytes, cwd=root, check=True
    )
    previewed = snapshot(root)
    assert (
        runner.invoke(
            app, ["update", str(root), "--metrics", "accuracy,nll,topk"]
        ).exit_code
        == 0
    )
    updated = snapshot(root)
    assert {p: d for p, d in updated.items() if not p.startswith(".scaffold")} == {
        p: d for p, d in previewed.items() if not p.startswith(".scaffold")
    }


def test_unwritable_output_directory_is_reported(tmp_path):
    if os.geteuid() == 0:
        # Root ignores permission bits, but not a kernel filesystem.
        locked, message = (
            Path("/sys/scaffold-test"),
            "cannot write to /sys/scaffold-test",
        )
    else:
        locked, message = tmp_path / "locked", "permission denied"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    result = runner.invoke(app, ["new", "mytrainer", "--output-dir", str(locked)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_output_dir_that_is_a_file_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = new(blocker, "mytrainer")
    assert result.exit_code == 1
    assert "is not a directory" in result.stderr


def test_python_dash_m_and_version():
    result = subprocess.run(
        [sys.executable, "-m", "scaffold", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"scaffold {__version__}"
