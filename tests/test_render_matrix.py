"""Every option combination renders code that compiles, imports, and is black- and pyflakes-clean."""

from __future__ import annotations

import importlib
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scaffold.options import Options
from scaffold.registry import METRICS
from scaffold.render import render

from .conftest import write_tree


def combinations() -> list[Options]:
    """All non-empty metric subsets, each with and without --cuda."""
    names = list(METRICS)
    subsets = [
        subset
        for size in range(1, len(names) + 1)
        for subset in itertools.combinations(names, size)
    ]
    return [
        Options(name="mytrainer", metrics=subset, cuda=cuda)
        for subset in subsets
        for cuda in (False, True)
    ]


COMBINATIONS = combinations()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> list[tuple[Options, Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("matrix")
    rows = []
    for index, options in enumerate(COMBINATIONS):
        files = render(options)
        rows.append((options, write_tree(root / f"c{index:03d}", files), files))
    return rows


def test_the_matrix_covers_every_metric_subset_with_and_without_cuda():
    assert len(COMBINATIONS) == (2 ** len(METRICS) - 1) * 2


def test_black_check_passes(matrix, tmp_path):
    # Most files come out the same for many combinations: check each distinct text
    # once, under a name that says where it came from.
    distinct = {}
    for _, root, files in matrix:
        for path, text in files.items():
            if path.endswith(".py"):
                distinct.setdefault(text, f"{root.name}__{path.replace('/', '__')}")
    for text, name in distinct.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_ruff_pyflakes_rules_pass(matrix):
    roots = [str(path) for _, path, _ in matrix]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "F,E9", *roots],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_every_file_compiles(matrix):
    for _, root, files in matrix:
        for path, text in files.items():
            if path.endswith(".py"):
                compile(text, str(root / path), "exec")


TEMPLATE_RESIDUE = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
COMMENT_ABOUT_GENERATION = re.compile(
    r"#.*\b(template|jinja|generated|generator|scaffold|do not edit)\b", re.IGNORECASE
)


def test_no_template_residue_and_no_comment_about_templates(matrix):
    for _, root, files in matrix:
        for path, text in files.items():
            assert not TEMPLATE_RESIDUE.search(text), f"{root / path}: Jinja residue"
            assert "\n\n\n\n" not in text, f"{root / path}: run of blank lines"
            if path.endswith(".py"):
                match = COMMENT_ABOUT_GENERATION.search(text)
                assert not match, f"{root / path}: {match.group(0)!r}"


def test_every_package_imports_and_exports_its_metrics(matrix):
    for options, root, files in matrix:
        modules = sorted(
            path[:-3].replace("/", ".").removesuffix(".__init__")
            for path in files
            if path.startswith("mytrainer/") and path.endswith(".py")
        )
        sys.path.insert(0, str(root))
        try:
            for module in modules:
                importlib.import_module(module)
            package = sys.modules["mytrainer"]
            expected = {"Engine", "Events", "State", "create_supervised_trainer", "create_supervised_evaluator"}
            expected |= {cls for name in options.metrics for cls in METRICS[name].classes}
            assert expected <= set(package.__all__), options
            assert all(hasattr(package, name) for name in package.__all__)
        finally:
            sys.path.remove(str(root))
            for name in [m for m in sys.modules if m == "mytrainer" or m.startswith("mytrainer.")]:
                del sys.modules[name]
