"""Every render-time choice, rendered, compiled, black- and ruff-clean, free of
template residue, and imported, for every task.

Render-time choices are the task, its metrics (every non-empty subset of the ones
the task offers), its kind of data and the features that add files (every on/off
set). Within a task each rendered file depends on the metrics or on the features
and data, never on both (asserted below), so a cross of the two covers every file
text that any option set of the task can produce: every metric subset with each
data kind and the features all off and all on, and every feature set with a few
metric sets. Run-time options (cuda, amp, distributed, the schedule) render the
same code and are checked to. Each distinct text is linted once, and enough option
sets of each task are imported that every distinct file is imported beside each
file it imports, and every two files that vary with the features meet in every
pairing of their variants that an option set renders. Names one letter and 70
characters long, which change line lengths, are rendered with every metric and
with every three features in each of their on/off combinations.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import black
import pytest
import torch.nn.functional as F

from scaffold.options import Options
from scaffold.registry import DATA_KINDS, FEATURES, METRICS, TASKS
from scaffold.render import _code_too_long, format_python, render

from .conftest import write_tree

pytestmark = pytest.mark.slow  # renders every metric set and feature set

FEATURE_NAMES = [name for name, spec in FEATURES.items() if spec.render_time]
# The data kind chooses files as the features do: it counts among them here. It
# also says the task (a data kind serves one), so an option set of the matrix is
# its metrics and these.
RENDER_TIME = ["data", *FEATURE_NAMES]
NAME = "mytrainer"
# What common lint configurations run; E501 stays in: generated code keeps within
# black's 88 columns.
RUFF_RULES = "F,E,W,I,B,UP,SIM"


def task_metrics(task: str) -> tuple[str, ...]:
    return tuple(name for name, spec in METRICS.items() if task in spec.tasks)


def task_data_kinds(task: str) -> list[str]:
    return [name for name, spec in DATA_KINDS.items() if spec.task == task]


def task_of(features: dict) -> str:
    return DATA_KINDS[features["data"]].task


# By task: its metric sets, its feature sets (data kind included), all its metrics
# and its last feature set, every feature on.
METRIC_SETS = {
    task: [
        subset
        for size in range(1, len(task_metrics(task)) + 1)
        for subset in itertools.combinations(task_metrics(task), size)
    ]
    for task in TASKS
}
FEATURE_SETS = {
    task: [
        dict(zip(RENDER_TIME, values, strict=True))
        for values in itertools.product(
            task_data_kinds(task), *[(False, True)] * len(FEATURE_NAMES)
        )
    ]
    for task in TASKS
}
ALL_METRICS = {task: task_metrics(task) for task in TASKS}
ALL_ON = {task: FEATURE_SETS[task][-1] for task in TASKS}


def option_set(metrics, features, name=NAME) -> Options:
    return Options(name=name, metrics=metrics, **features)


EXTREMES = {
    task: [
        dict(zip(RENDER_TIME, (data, *[flag] * len(FEATURE_NAMES)), strict=True))
        for data in task_data_kinds(task)
        for flag in (False, True)
    ]
    for task in TASKS
}
# Two metric sets for each feature set: nll alone, which every task offers and
# which needs none of the modules its other metrics share, and all of them.
FEW_METRIC_SETS = {task: [("nll",), ALL_METRICS[task]] for task in TASKS}
CROSS = [
    pair
    for task in TASKS
    for pair in (
        *(
            (metrics, features)
            for metrics in METRIC_SETS[task]
            for features in EXTREMES[task]
        ),
        *(
            (metrics, features)
            for features in FEATURE_SETS[task]
            for metrics in FEW_METRIC_SETS[task]
        ),
    )
]


@pytest.fixture(scope="module")
def distinct_files() -> dict[tuple[str, str], tuple[Options, ...]]:
    """Every distinct (path, text) of the cross of metric sets and feature sets,
    with the option sets that produce it."""
    found = defaultdict(list)
    for metrics, features in dict.fromkeys(
        (metrics, tuple(features.items())) for metrics, features in CROSS
    ):
        options = option_set(metrics, dict(features))
        for path, text in render(options).items():
            found[path, text].append(options)
    return {key: tuple(value) for key, value in found.items()}


def test_every_metric_and_data_kind_serves_a_task_and_nll_serves_them_all():
    assert {name for task in TASKS for name in ALL_METRICS[task]} == set(METRICS)
    assert {kind for task in TASKS for kind in task_data_kinds(task)} == set(DATA_KINDS)
    assert all("nll" in ALL_METRICS[task] for task in TASKS)


@pytest.mark.parametrize("task", TASKS)
def test_the_cross_renders_every_metric_set_and_every_feature_set_of_a_task(task):
    crossed = {
        (metrics, tuple(features.items()))
        for metrics, features in CROSS
        if task_of(features) == task
    }
    assert {metrics for metrics, _ in crossed} == set(METRIC_SETS[task])
    assert {features for _, features in crossed} == {
        tuple(features.items()) for features in FEATURE_SETS[task]
    }
    # Each metric set meets at least two feature sets and each feature set at
    # least two metric sets, so a file that varies with both shows it.
    by_metrics, by_features = defaultdict(set), defaultdict(set)
    for metrics, features in crossed:
        by_metrics[metrics].add(features)
        by_features[features].add(metrics)
    assert min(map(len, by_metrics.values())) >= 2
    assert min(map(len, by_features.values())) >= 2
    # And every one of them is an option set that the task accepts.
    for metrics, features in crossed:
        assert option_set(metrics, dict(features)).task == task


def test_exactly_the_features_that_add_files_are_render_time_choices():
    assert sorted(FEATURE_NAMES) == sorted(
        name for name, spec in FEATURES.items() if spec.files
    )
    assert all(spec.why for spec in FEATURES.values())


def test_each_file_depends_on_the_metrics_or_on_the_features_never_on_both(
    distinct_files,
):
    # Within a task: the task itself changes files of both kinds (evaluation.py
    # builds its metrics, and reads masks in a segmentation project).
    texts = defaultdict(lambda: defaultdict(set))
    for (path, text), option_sets in distinct_files.items():
        for options in option_sets:
            features = tuple(getattr(options, name) for name in RENDER_TIME)
            texts[options.task, path][options.metrics, features].add(text)
    assert {task for task, _ in texts} == set(TASKS)
    for (task, path), by_choice in texts.items():
        if path.endswith(".md"):
            continue  # prose: it may name both
        by_metrics, by_features = defaultdict(set), defaultdict(set)
        for (metrics, features), variants in by_choice.items():
            by_metrics[metrics] |= variants
            by_features[features] |= variants
        assert all(len(v) == 1 for v in by_metrics.values()) or all(
            len(v) == 1 for v in by_features.values()
        ), f"{path} varies with both the metrics and the features ({task})"


def test_every_distinct_python_file_compiles_and_is_in_black_format(distinct_files):
    for path, text in distinct_files:
        if path.endswith(".py"):
            compile(text, path, "exec")
            formatted = black.format_str(text, mode=black.Mode())
            assert formatted == text, f"{path} is not in black's format"
            # The template itself is: render ran no black on it.
            assert not _code_too_long(text), f"{path}: a line past 88 columns"


def test_every_distinct_python_file_passes_the_common_ruff_rules(
    distinct_files, tmp_path
):
    for index, (path, text) in enumerate(distinct_files):
        if path.endswith(".py"):
            target = tmp_path / f"v{index}" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    assert_ruff_clean(tmp_path, "--select", RUFF_RULES)


# A percent format at the end of a replacement field ({share:.0%}) is not a tag end.
TEMPLATE_RESIDUE = re.compile(r"\{\{|\}\}|\{%|(?<![\d:.])%\}|\{#|#\}")
COMMENT_ABOUT_GENERATION = re.compile(
    r"#.*\b(template|jinja|generated|generator|scaffold|do not edit)\b", re.IGNORECASE
)


def test_no_template_residue_and_no_comment_about_templates(distinct_files):
    for path, text in distinct_files:
        assert not TEMPLATE_RESIDUE.search(text), f"{path}: Jinja residue"
        assert "\n\n\n\n" not in text, f"{path}: run of blank lines"
        if path.endswith(".py"):
            match = COMMENT_ABOUT_GENERATION.search(text)
            assert not match, f"{path}: {match.group(0)!r}"


def python_files(files: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(
        (path, text) for path, text in files.items() if path.endswith(".py")
    )


def greedy_cover(candidates: list[set]) -> list[int]:
    """Indices of candidates whose union holds every candidate's elements, each
    chosen for holding the most of those still missing (the first such on ties)."""
    missing = set().union(*candidates)
    chosen = []
    while missing:
        best = max(
            range(len(candidates)), key=lambda index: len(candidates[index] & missing)
        )
        chosen.append(best)
        missing -= candidates[best]
    return chosen


@functools.cache
def imported_sets(task: str) -> list[tuple[tuple[str, ...], dict]]:
    """Option sets of a task whose packages, imported, import every distinct file
    beside a variant of each file it imports, and every two files that vary with
    the features in each pairing of their variants that an option set renders.

    The task's feature sets are kept greedily until their packages (with every
    metric of the task) hold every such pair; each kept one is paired with a
    metric set, and every metric set with one of them.
    """
    packages = [
        python_files(render(option_set(ALL_METRICS[task], features)))
        for features in FEATURE_SETS[task]
    ]
    shared = frozenset.intersection(*packages)
    pairs = [
        set(itertools.combinations_with_replacement(sorted(package - shared), 2))
        for package in packages
    ]
    kept = [FEATURE_SETS[task][index] for index in greedy_cover(pairs)]
    metric_sets = METRIC_SETS[task]
    count = max(len(kept), len(metric_sets))
    return [
        (metric_sets[index % len(metric_sets)], kept[index % len(kept)])
        for index in range(count)
    ]


def test_the_imported_sets_hold_every_distinct_file(distinct_files):
    imported = set().union(
        *(
            python_files(render(option_set(*choice)))
            for task in TASKS
            for choice in imported_sets(task)
        )
    )
    for path, text in distinct_files:
        if path.endswith(".py"):
            assert (path, text) in imported, f"a variant of {path} is never imported"


@pytest.mark.parametrize("task", TASKS)
def test_every_package_imports_and_exports_what_it_promises(tmp_path, task):
    for index, (metrics, features) in enumerate(imported_sets(task)):
        options = option_set(metrics, features)
        files = render(options)
        root = write_tree(tmp_path / f"c{index}", files)
        modules = sorted(
            path[:-3].replace("/", ".").removesuffix(".__init__")
            for path in files
            if path.startswith(f"{NAME}/") and path.endswith(".py")
        )
        sys.path.insert(0, str(root))
        try:
            for module in modules:
                importlib.import_module(module)
            package = sys.modules[NAME]
            expected = {"Engine", "Events", "State", "create_supervised_trainer"}
            expected |= {cls for name in metrics for cls in METRICS[name].classes}
            assert expected <= set(package.__all__), options
            assert all(hasattr(package, name) for name in package.__all__)
            evaluation = sys.modules[f"{NAME}.evaluation"]
            metrics_built = evaluation.validation_metrics(10, F.nll_loss)
            assert list(metrics_built) == list(metrics)
        finally:
            sys.path.remove(str(root))
            for name in [m for m in sys.modules if m.split(".")[0] == NAME]:
                del sys.modules[name]


@pytest.mark.parametrize("task", TASKS)
def test_run_time_options_render_the_same_code(task):
    base = render(Options(name=NAME, task=task))
    for name in ("cuda", "amp", "distributed"):
        assert render(Options(name=NAME, task=task, **{name: True})) == base, name
    cosine = render(Options(name=NAME, task=task, scheduler="cosine"))
    changed = {path for path in base if base[path] != cosine[path]}
    assert changed == {f"{NAME}/config.py"}
    assert 'default="cosine"' in cosine[f"{NAME}/config.py"]


def assert_ruff_clean(folder: Path, *options: str, package: str = NAME) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--no-cache",
            "--line-length",
            "88",
            # The generated pyproject.toml's requires-python, which ruff reads there.
            "--target-version",
            "py310",
            "--config",
            f'lint.isort.known-first-party = ["{package}"]',
            *options,
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


# Shortest name: most room for black to join lines that a template splits. Long
# name: import lines and docstrings run past 88 columns, and black runs.
NAMES = ["a", "a_training_package_whose_name_is_long_enough_for_black_to_run_on_files"]


def covering_sets(names, strength=3):
    """On/off sets of `names` in which any `strength` of them take each of their
    on/off combinations at least once (a covering array, picked greedily), the
    first being all on."""
    rows = list(itertools.product((True, False), repeat=len(names)))
    groups = list(itertools.combinations(range(len(names)), strength))
    takes = [
        {(group, tuple(row[i] for i in group)) for group in groups} for row in rows
    ]
    return [dict(zip(names, rows[index], strict=True)) for index in greedy_cover(takes)]


# For a long or short name, where line lengths change: every metric of each task,
# and every three features in each of their on/off combinations (their full
# product would be 2**n sets), with each kind of data.
NAMED_SETS = {
    task: [
        {"data": data, **features}
        for data in task_data_kinds(task)
        for features in covering_sets(FEATURE_NAMES)
    ]
    for task in TASKS
}


def test_the_covering_sets_take_every_three_features_every_way():
    sets = covering_sets(FEATURE_NAMES)
    assert sets[0] == dict.fromkeys(FEATURE_NAMES, True)
    for group in itertools.combinations(FEATURE_NAMES, 3):
        seen = {tuple(features[name] for name in group) for features in sets}
        assert len(seen) == 8, group
    assert len(sets) < 2 ** len(FEATURE_NAMES) // 8


@pytest.mark.parametrize("name", NAMES, ids=["one-letter", "70-characters"])
def test_any_name_renders_black_and_ruff_clean(tmp_path, name):
    choices = [
        choice
        for task in TASKS
        for choice in (
            *((ALL_METRICS[task], features) for features in NAMED_SETS[task]),
            *(((metric,), ALL_ON[task]) for metric in ALL_METRICS[task]),
        )
    ]
    distinct = {}
    for metrics, features in choices:
        for path, text in render(option_set(metrics, features, name)).items():
            if path.endswith(".py"):
                distinct.setdefault((path, text), len(distinct))
    for (path, text), index in distinct.items():
        assert black.format_str(text, mode=black.Mode()) == text, path
        write_tree(tmp_path / f"v{index}", {path: text})
    # Long names may leave docstring lines past 88 columns, which black cannot wrap.
    assert_ruff_clean(
        tmp_path, "--select", RUFF_RULES, "--ignore", "E501", package=name
    )


def test_black_runs_only_when_a_line_is_longer_than_88_columns():
    fits = "x = {'a':1}  # black would respace and requote this\n"
    assert format_python(fits) == fits
    too_long = "values = [" + ", ".join(["1000"] * 20) + "]\n"
    expected = "values = [\n" + "".join("    1000,\n" for _ in range(20)) + "]\n"
    assert format_python(too_long) == expected


def test_a_long_line_inside_a_docstring_leaves_black_out_and_black_agrees():
    usage = "    python -m " + "a" * 80 + ".train --epochs 5"
    text = f'def train():\n    """Usage:\n\n{usage}\n    """\n'
    assert format_python(text) is text
    assert black.format_str(text, mode=black.Mode()) == text
    code = f'def train():\n    """Usage."""\n    return "{usage}", 1\n'
    assert format_python(code) == black.format_str(code, mode=black.Mode()) != code


# Imports package `a` from each folder given, one after another, in one process:
# the features' dependencies (mlflow, wandb, optuna) are imported once.
IMPORT_EACH = """
import importlib, sys
for root in sys.argv[1:]:
    sys.path.insert(0, root)
    importlib.import_module("a.train")
    importlib.import_module("a.evaluation")
    sys.path.remove(root)
    for name in [m for m in sys.modules if m.split(".")[0] == "a"]:
        del sys.modules[name]
"""


def test_a_one_letter_name_keeps_every_option_set_importable(tmp_path):
    roots = []
    for task in TASKS:
        options = option_set(ALL_METRICS[task], ALL_ON[task], name="a")
        roots.append(str(write_tree(tmp_path / task, render(options))))
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *roots],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
