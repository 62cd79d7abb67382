"""A generated project installs as a package: its wheel holds every module of the
package and its sub-packages, and nothing else (not its tests, not the record)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from scaffold.options import Options
from scaffold.project import create
from scaffold.registry import DATA_KINDS, FEATURES, task_metrics

pytestmark = pytest.mark.slow  # builds wheels

EVERYTHING = {name: True for name, spec in FEATURES.items() if spec.render_time}


@pytest.mark.parametrize("data", list(DATA_KINDS))
def test_the_wheel_holds_every_module_of_the_package(tmp_path, data):
    root = create(
        Options(
            name="mytrainer",
            data=data,
            metrics=task_metrics(DATA_KINDS[data].task),
            **EVERYTHING,
        ),
        tmp_path,
    )
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(tmp_path / "dist"), str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("mytrainer-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        modules = {name for name in archive.namelist() if name.endswith(".py")}
    expected = {
        path.relative_to(root).as_posix() for path in (root / "mytrainer").rglob("*.py")
    }
    assert modules == expected
    assert {"mytrainer/engine/engine.py", "mytrainer/data/loaders.py"} <= modules
