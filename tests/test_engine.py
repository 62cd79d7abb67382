"""The generated Engine passes the tests that ship with every generated project."""

from __future__ import annotations

import pytest

from scaffold.options import Options
from scaffold.render import render

from .conftest import run_python, write_tree

pytestmark = pytest.mark.slow  # trains, or runs a generated program


def test_generated_engine_tests_pass(tmp_path):
    files = render(Options(name="mytrainer"))
    assert "mytrainer/engine/engine.py" in files and "tests/test_engine.py" in files
    root = write_tree(tmp_path, files)
    result = run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_engine.py"],
        cwd=root,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout
