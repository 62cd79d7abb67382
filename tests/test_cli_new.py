"""`scaffold new` and `scaffold list` through Typer's CliRunner: every option, every bad input."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app
from scaffold.registry import METRICS

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
    for path in ["engine.py", "supervised.py", "model.py", "data.py", "train.py"]:
        assert (root / "mytrainer" / path).is_file()
    assert (root / "mytrainer" / "metrics" / "accuracy.py").is_file()
    assert (root / "mytrainer" / "metrics" / "loss.py").is_file()
    assert not (root / "mytrainer" / "metrics" / "topk.py").exists()
    record = json.loads((root / ".scaffold.json").read_text())
    assert record["scaffold_version"] == __version__
    assert len(record["templates_fingerprint"]) == 16
    assert record["options"] == {
        "name": "mytrainer",
        "metrics": ["accuracy", "nll"],
        "cuda": True,
        "distributed": False,
        "checkpoint": False,
        "early_stopping": False,
        "scheduler": "onecycle",
        "amp": False,
        "progress": False,
        "tensorboard": False,
        "plot": False,
    }


def test_default_metrics_are_accuracy_and_nll_without_cuda(tmp_path):
    assert new(tmp_path, "mytrainer").exit_code == 0
    record = json.loads((tmp_path / "mytrainer" / ".scaffold.json").read_text())
    assert record["options"]["metrics"] == ["accuracy", "nll"]
    assert record["options"]["cuda"] is False
    assert "cuda" not in (tmp_path / "mytrainer/mytrainer/data.py").read_text()


def test_metric_order_on_the_command_line_does_not_change_the_output(tmp_path):
    assert new(tmp_path / "a", "mytrainer", "--metrics", "nll,topk,accuracy").exit_code == 0
    assert new(tmp_path / "b", "mytrainer", "--metrics", "accuracy, topk ,nll").exit_code == 0
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


def test_output_is_byte_identical_across_processes(tmp_path):
    for folder in ("a", "b"):
        subprocess.run(
            [sys.executable, "-m", "scaffold", "new", "mytrainer", "--metrics", "f1,accuracy", "-o", str(tmp_path / folder)],
            check=True,
            capture_output=True,
        )
    assert snapshot(tmp_path / "a") == snapshot(tmp_path / "b")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mytrainer", "--metrics", "accuracy,bogus"], "unknown metric 'bogus'; choose from accuracy, nll"),
        (["mytrainer", "--metrics", "accuracy,accuracy"], "metric 'accuracy' is listed more than once"),
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


def test_every_metric_in_the_registry_is_offered_by_list():
    result = runner.invoke(app, ["list"])

    assert result.exit_code == 0
    for spec in METRICS.values():
        assert f"{spec.name}  " in result.output and spec.summary in result.output
    assert "--cuda" in result.output


def test_refuses_a_non_empty_directory_without_force(tmp_path):
    assert new(tmp_path, "mytrainer").exit_code == 0
    before = snapshot(tmp_path)

    result = new(tmp_path, "mytrainer", "--metrics", "topk")

    assert result.exit_code == 1
    assert "is not empty; pass --force" in result.stderr
    assert snapshot(tmp_path) == before


def test_force_rewrites_generated_files_and_keeps_the_users(tmp_path):
    assert new(tmp_path, "mytrainer").exit_code == 0
    root = tmp_path / "mytrainer"
    (root / "notes.txt").write_text("mine")
    (root / "mytrainer" / "model.py").write_text("broken")

    result = new(tmp_path, "mytrainer", "--metrics", "accuracy,topk", "--force")

    assert result.exit_code == 0, result.output
    assert (root / "notes.txt").read_text() == "mine"
    assert "class Net" in (root / "mytrainer" / "model.py").read_text()
    assert (root / "mytrainer" / "metrics" / "topk.py").is_file()


def test_unwritable_output_directory_is_reported(tmp_path):
    if os.geteuid() == 0:
        # Root ignores permission bits, but not a kernel filesystem.
        locked, message = Path("/sys/scaffold-test"), "cannot write to /sys/scaffold-test"
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
        [sys.executable, "-m", "scaffold", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"scaffold {__version__}"
