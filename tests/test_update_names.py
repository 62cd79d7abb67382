"""After a merge, the names: `update` and `check` name each place where the files
a user edited or wrote use a name or module that is no longer there, with its file
and line, even where every line merged cleanly."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from scaffold.cli import PROBLEMS, app
from scaffold.names import check_names
from scaffold.options import Options
from scaffold.project import create

runner = CliRunner()
PACKAGE = "mytrainer"


def found(output: str) -> list[str]:
    """The problems a report lists under the name check's heading."""
    lines = output.splitlines()
    if f"names to fix: {PROBLEMS}" not in lines:
        return []
    start = lines.index(f"names to fix: {PROBLEMS}") + 1
    problems = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        problems.append(line.strip())
    return problems


def project(tmp_path: Path, **options) -> Path:
    return create(Options(name=PACKAGE, **options), tmp_path)


def test_keeping_your_side_of_a_removed_metric_is_named(tmp_path):
    root = project(tmp_path, metrics=("accuracy", "f1"))
    evaluation = root / PACKAGE / "evaluation.py"
    text = evaluation.read_text()
    evaluation.write_text(text.replace('F1(average="macro")', 'F1(average="micro")'))

    result = runner.invoke(app, ["update", str(root), "--metrics", "accuracy"])

    assert result.exit_code == 1  # the conflict
    [problem] = found(result.stdout)
    path, line, message = problem.split(":", 2)
    assert (path, message) == (f"{PACKAGE}/evaluation.py", " undefined name 'F1'")
    kept = evaluation.read_text().split("<<<<<<< your version\n", 1)
    assert kept[0].count("\n") + 1 == int(line)  # the line of the conflict block


def test_a_module_of_your_own_that_imports_a_moved_module_is_named(tmp_path):
    root = project(tmp_path)
    (root / PACKAGE / "mine.py").write_text(
        "from .data.loaders import DataError, TensorLoader\n"
        "from .loaders import EpochOrder\n"
        "from .engine import Engine, NoSuchThing\n\n\n"
        "def make():\n    return TensorLoader, DataError, EpochOrder, Engine, later\n"
    )

    result = runner.invoke(app, ["check", str(root)])

    assert result.exit_code == 1
    assert found(result.stdout) == [
        f"{PACKAGE}/mine.py:2: imports {PACKAGE}.loaders, which is not there",
        (
            f"{PACKAGE}/mine.py:3: imports NoSuchThing from {PACKAGE}.engine, "
            "which does not define it"
        ),
        f"{PACKAGE}/mine.py:7: undefined name 'later'",
    ]


def test_a_clean_project_and_a_clean_update_name_nothing(tmp_path):
    root = project(tmp_path)
    (root / PACKAGE / "mine.py").write_text(
        "from .data import get_data\nfrom .model.net import Net\n\n"
        "USED = (get_data, Net)\n"
    )
    assert runner.invoke(app, ["check", str(root)]).stdout == "up to date\n"

    result = runner.invoke(app, ["update", str(root), "--checkpoint"])

    assert result.exit_code == 0, result.output
    assert found(result.stdout) == []


def test_the_check_reads_absolute_imports_of_the_package_and_leaves_others_alone():
    files = {
        f"{PACKAGE}/__init__.py": b"",
        f"{PACKAGE}/a.py": b"X = 1\n",
        "tests/test_a.py": (
            b"import torch\nfrom numpy import nothing_checked\n"
            b"from mytrainer.a import X, Y\nfrom mytrainer.b import Z\n"
        ),
    }
    problems = check_names(files, {"tests/test_a.py"}, PACKAGE)
    assert [str(p) for p in problems] == [
        f"tests/test_a.py:3: imports Y from {PACKAGE}.a, which does not define it",
        f"tests/test_a.py:4: imports {PACKAGE}.b, which is not there",
    ]
