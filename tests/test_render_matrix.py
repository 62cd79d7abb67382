"""Every option combination renders code that compiles, imports, and is black- and pyflakes-clean, lines within 88 columns.

The templates are written in black's format and render skips black while every line
fits in 88 columns, so `black --check` here checks the templates themselves, and the
name-length tests check the case where black does run."""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import re
import subprocess
import sys
from pathlib import Path

import black
import pytest

from scaffold.options import Options
from scaffold.registry import DEFAULT_METRICS, FEATURES, METRICS
from scaffold.render import format_python, render

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


def feature_factors() -> dict[str, tuple]:
    """Every option's values: on/off, a choice's values, and three metric sets
    (one without a scalar score, the default, all)."""
    factors = {name: spec.choices or (False, True) for name, spec in FEATURES.items()}
    factors["metrics"] = (("confusion",), DEFAULT_METRICS, tuple(METRICS))
    return factors


def pairs(row: dict) -> set:
    names = list(row)
    return {((a, row[a]), (b, row[b])) for i, a in enumerate(names) for b in names[i + 1 :]}


def pairwise(factors: dict[str, tuple]) -> list[dict]:
    """Rows in which every pair of values of every two factors occurs at least once.

    Greedy and deterministic: each row starts from the first pair not yet covered
    and takes, factor by factor, the value that covers the most new pairs.
    """
    uncovered = set().union(*(pairs(dict(zip(factors, values))) for values in itertools.product(*factors.values())))
    rows = []
    while uncovered:
        (first, value), (second, other) = min(uncovered, key=repr)
        row = {first: value, second: other}
        for name, values in factors.items():
            if name not in row:
                row[name] = max(values, key=lambda v: len(pairs({**row, name: v}) & uncovered))
        row = {name: row[name] for name in factors}  # factor order, as `pairs` counts
        rows.append(row)
        uncovered -= pairs(row)
    return rows


FEATURE_ROWS = pairwise(feature_factors())
ALL_ON = {name: spec.choices[0] if spec.choices else True for name, spec in FEATURES.items()}
ALL_OFF = {name: "none" if spec.choices else False for name, spec in FEATURES.items()}


def feature_combinations() -> list[Options]:
    """Pairwise coverage of every feature option (and metric sets), plus all on and all off."""
    rows = [Options(name="mytrainer", **row) for row in FEATURE_ROWS]
    rows.append(Options(name="mytrainer", metrics=tuple(METRICS), **ALL_ON))
    rows.append(Options(name="mytrainer", **ALL_OFF))
    return rows


COMBINATIONS = combinations() + feature_combinations()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory) -> list[tuple[Options, Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("matrix")
    rows = []
    for index, options in enumerate(COMBINATIONS):
        files = render(options)
        rows.append((options, write_tree(root / f"c{index:03d}", files), files))
    return rows


def test_the_matrix_covers_every_metric_subset_with_and_without_cuda():
    covered = {(options.metrics, options.cuda) for options in COMBINATIONS}
    assert len(covered) == (2 ** len(METRICS) - 1) * 2


def test_the_matrix_covers_every_pair_of_feature_values_and_all_on_and_off():
    factors = feature_factors()
    rows = [{name: getattr(o, name) for name in factors} for o in COMBINATIONS]
    expected = set().union(*(pairs(dict(zip(factors, v))) for v in itertools.product(*factors.values())))
    assert expected <= set().union(*(pairs(row) for row in rows))
    assert any(all(getattr(o, k) == v for k, v in ALL_ON.items()) for o in COMBINATIONS)
    assert any(all(getattr(o, k) == v for k, v in ALL_OFF.items()) for o in COMBINATIONS)
    assert len(FEATURE_ROWS) <= 20  # pairwise: not the 2**8 * 4 * 3 combinations


def assert_black_clean(folder: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--diff", "--quiet", str(folder)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def assert_ruff_clean(paths: list[Path], *options: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", *options, *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]


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
    assert_black_clean(tmp_path)


def test_ruff_pyflakes_rules_and_line_length_pass(matrix):
    assert_ruff_clean([path for _, path, _ in matrix], "--select", "F,E9,E501", "--line-length", "88")


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


# Shortest name: most room for black to join lines that a template splits. Long
# name: import lines and docstrings run past 88 columns, and black runs.
NAMES = ["a", "a_training_package_whose_name_is_long_enough_for_black_to_run_on_files"]


@pytest.mark.parametrize("name", NAMES, ids=["one-letter", "70-characters"])
def test_any_name_renders_black_and_pyflakes_clean(tmp_path, name):
    for index, options in enumerate(feature_combinations()):
        files = render(dataclasses.replace(options, name=name))
        write_tree(tmp_path / f"c{index:02d}", files)
    assert_black_clean(tmp_path)
    assert_ruff_clean([tmp_path], "--select", "F,E9")


def test_black_runs_only_when_a_line_is_longer_than_88_columns():
    fits = "x = {'a':1}  # black would respace and requote this\n"
    assert format_python(fits) == fits
    too_long = "values = [" + ", ".join(["1000"] * 20) + "]\n"
    assert format_python(too_long) == "values = [\n" + "".join("    1000,\n" for _ in range(20)) + "]\n"


def test_a_long_line_inside_a_docstring_leaves_black_out_and_black_agrees():
    usage = "    python -m " + "a" * 80 + ".train --epochs 5"
    text = f'def train():\n    """Usage:\n\n{usage}\n    """\n'
    assert format_python(text) is text
    assert black.format_str(text, mode=black.Mode()) == text
    code = f'def train():\n    """Usage."""\n    return "{usage}", 1\n'
    assert format_python(code) == black.format_str(code, mode=black.Mode()) != code
