"""The tests that ship inside a generated project pass for a matrix of option sets,
and each set's train script is wired for its options.

The matrix, for classification: every metric subset (no features), every set of
the features that add files (default metrics) but the trackers and the sweep,
which are tried alone and with every other feature, and each other kind of data
(defaults). For each other task: each of its metrics alone, its kind of data, and
its default project with every feature, which runs every test it ships. The
others run the shipped tests of what varies with their options: test_metrics.py
and one file per metric module; test_handlers.py and one file per feature; a
kind of data's tests and test_images.py. The train script of each is checked too
(WIRING below): its flags parse, its validation metrics are the chosen ones, and
for each metric of the default task and each feature alone, each kind of data and
each other task with every feature, one short run writes the history and the
feature's files.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys

import pytest

from scaffold.options import Options
from scaffold.registry import (
    DATA_KINDS,
    DEFAULT_DATA,
    DEFAULT_METRICS,
    DEFAULT_TASK,
    FEATURES,
    METRICS,
    TASKS,
)
from scaffold.render import render
from scripts.datasets import digit_canvases, digits_folder

from .conftest import write_tree

pytestmark = pytest.mark.slow  # trains, or runs a generated program

# Each adds a module that only train.py's wiring or its own command reads: each
# alone and all features together test what every combination would.
ALONE = ("mlflow", "wandb", "sweep")
FILE_FEATURES = [
    name for name, spec in FEATURES.items() if spec.render_time and name not in ALONE
]
# The features that add Python code or tests multiply the option sets; one that adds
# only a script (slurm/train.sbatch) is on in the set of every feature alone.
CODE_FEATURES = [
    name
    for name in FILE_FEATURES
    if any(path.startswith(("package/", "tests/")) for path in FEATURES[name].files)
]
# What each feature leaves in --output-dir beside metrics.jsonl.
OUTPUTS = {
    "checkpoint": "checkpoints",
    "tensorboard": "tensorboard",
    "plot": "training_curves.png",
    "wandb": "wandb",
}
NOT_ONE_NUMBER = {"confusion", "iou", "dice"}  # metrics --monitor cannot watch
# A shipped test file that starts processes of its own (torch.multiprocessing).
SPAWNS = "tests/test_distributed.py"
# Where each kind of data's short run finds it.
DATA_DIR_VARIABLES = {
    "mnist": "MATRIX_DATA_DIR",
    "imagefolder": "MATRIX_IMAGE_DIR",
    "masks": "MATRIX_MASKS_DIR",
}
# What a short run adds to its flags: half-size canvases train four times faster.
TRAIN_FLAGS = {"masks": ["--image-size", "32"]}

# Runs in the projects' pytest process; CASES come from cases.json beside it.
WIRING = '''
"""Each project's train script, wired for its options."""

import importlib
import json
import os
from pathlib import Path

import pytest
import torch

CASES = json.loads(Path(__file__).with_name("cases.json").read_text())


def classification_batches():
    """A linear model of 28x28 images and two batches of images and labels."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    model.append(torch.nn.LogSoftmax(dim=1))
    batches = [(torch.randn(n, 1, 28, 28), torch.arange(n) % 10) for n in (7, 5)]
    return model, batches


def segmentation_batches():
    """A per-pixel linear model and two batches of images and masks, a corner of
    each mask unlabelled (255)."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 10, 1), torch.nn.LogSoftmax(dim=1))
    batches = []
    for n in (3, 2):
        masks = torch.randint(0, 10, (n, 6, 5))
        masks[:, :2, :2] = 255
        batches.append((torch.randn(n, 3, 6, 5), masks))
    return model, batches


BATCHES = {
    "classification": classification_batches,
    "segmentation": segmentation_batches,
}


@pytest.mark.parametrize("case", CASES, ids=[case["package"] for case in CASES])
def test_flags_parse_and_validation_has_the_chosen_metrics(case):
    package = case["package"]
    config = importlib.import_module(f"{package}.config")
    evaluation = importlib.import_module(f"{package}.evaluation")
    loss = importlib.import_module(f"{package}.model.loss")
    engine = importlib.import_module(f"{package}.engine")
    history = importlib.import_module(f"{package}.handlers.history")

    args = config.parse_args([])
    assert args.monitor == case["monitor"]

    metrics = evaluation.validation_metrics(10, loss.loss_fn)
    assert list(metrics) == case["metrics"]
    torch.manual_seed(0)
    model, batches = BATCHES[case["task"]]()
    evaluator = engine.create_supervised_evaluator(model, metrics=metrics)
    values = evaluator.run(batches).metrics
    assert list(values) == case["metrics"]
    json.dumps({name: history.as_json(value) for name, value in values.items()})


TRAINED = [case for case in CASES if case["train"]]


@pytest.mark.parametrize("case", TRAINED, ids=[case["package"] for case in TRAINED])
def test_one_short_run_writes_the_history_and_the_features_files(
    case, tmp_path, capsys
):
    train = importlib.import_module(f"{case['package']}.train")
    data_dir = os.environ[case["data_dir_variable"]]
    flags = ["--data-dir", data_dir, "--epoch-length", "2", *case["train_flags"]]
    train.main([*flags, "--output-dir", str(tmp_path)])

    [row] = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert list(row) == ["epoch", "train_loss", "seconds", *case["metrics"]]
    assert sorted(path.name for path in tmp_path.iterdir()) == case["outputs"]
    printed = capsys.readouterr().out
    assert "epoch 1 validation: train_loss " in printed
    assert f"best {case['monitor']} " in printed
'''


def project_case(package, options, train):
    """What WIRING expects of one project."""
    scores = [name for name in options.metrics if name not in NOT_ONE_NUMBER]
    outputs = ["classes.json", "config.json", "last.pt", "metrics.jsonl", "model.pt"]
    outputs += [OUTPUTS[name] for name in OUTPUTS if getattr(options, name)]
    return {
        "package": package,
        "task": options.task,
        "metrics": list(options.metrics),
        "monitor": scores[0] if scores else "train_loss",
        "train": train,
        "outputs": sorted(outputs),
        "data_dir_variable": DATA_DIR_VARIABLES[options.data],
        "train_flags": TRAIN_FLAGS.get(options.data, []),
    }


def shipped_tests(specs):
    """The generated test files that these metrics or features add."""
    return {
        path.removesuffix(".jinja")
        for spec in specs
        for path in spec.files
        if path.startswith("tests/")
    }


def metric_sets(task):
    """Every subset of the default task's metrics; of another task's, each alone
    (its project with every feature has them all; the render matrix imports every
    subset)."""
    names = [name for name, spec in METRICS.items() if task in spec.tasks]
    if task != DEFAULT_TASK:
        return [(name,) for name in names]
    return [
        subset
        for size in range(1, len(names) + 1)
        for subset in itertools.combinations(names, size)
    ]


def option_sets():
    """(options, the shipped test files that vary with them, whether to train)."""
    for task in TASKS:
        for metrics in metric_sets(task):
            files = shipped_tests(METRICS[name] for name in metrics)
            files.add("tests/test_metrics.py")
            options = Options(name="mytrainer", task=task, metrics=metrics)
            # Another task trains in its kind of data's set and with every feature.
            yield options, files, len(metrics) == 1 and task == DEFAULT_TASK
    for size in range(1, len(CODE_FEATURES) + 1):
        for features in itertools.combinations(CODE_FEATURES, size):
            if size == len(CODE_FEATURES):
                features = FILE_FEATURES
            files = shipped_tests(FEATURES[name] for name in features)
            files.add("tests/test_handlers.py")
            options = Options(
                name="mytrainer",
                metrics=DEFAULT_METRICS,
                **dict.fromkeys(features, True),
            )
            yield options, files, size == 1
    for features in [*([name] for name in ALONE), [*FILE_FEATURES, *ALONE]]:
        files = shipped_tests(FEATURES[name] for name in features)
        files.add("tests/test_handlers.py")
        options = Options(name="mytrainer", **dict.fromkeys(features, True))
        yield options, files, len(features) == 1
    for kind, spec in DATA_KINDS.items():
        if kind != DEFAULT_DATA:
            files = shipped_tests([spec]) | {"tests/test_images.py"}
            yield Options(name="mytrainer", data=kind), files, True
    # Another task changes the model, the data, the loss and what the engine sees:
    # its project with every feature runs all the tests it ships.
    every_feature = dict.fromkeys([*FILE_FEATURES, *ALONE], True)
    for task in TASKS:
        if task != DEFAULT_TASK:
            options = Options(name="mytrainer", task=task, **every_feature)
            files = {path for path in render(options) if path.startswith("tests/test")}
            yield options, files, True


def test_shipped_tests_pass_and_train_scripts_are_wired_for_every_option_set(
    tmp_path, mnist_root
):
    images = digits_folder(tmp_path / "digits")
    canvases = digit_canvases(tmp_path / "canvases", train=24, val=8)
    # One pytest process for all projects, so torch is imported once: each project
    # gets its own package name, and every project root goes on the path.
    roots, test_files, cases, on_their_own = [], [], [], {}
    for options, files, train in option_sets():
        # Rendered as "mytrainer" (the render matrix formatted these already) and
        # renamed: formatting is not under test here, behaviour is.
        package = f"m{len(roots):03d}"
        renamed = {
            path.replace("mytrainer", package): text.replace("mytrainer", package)
            for path, text in render(options).items()
        }
        root = write_tree(tmp_path / package, renamed)
        roots.append(str(root))
        assert all((root / path).is_file() for path in files), files
        cases.append(project_case(package, options, train))
        if SPAWNS in files:
            # A process that test spawns imports the test module by its name,
            # tests.test_distributed, which among many projects on the path is
            # another project's: these tests run as the project's own, beside.
            on_their_own[package] = start_pytest(sorted(files), root, root)
        else:
            test_files.extend(str(root / path) for path in sorted(files))
    other_tasks = len(TASKS) - 1
    assert len(roots) == (
        sum(len(metric_sets(task)) for task in TASKS)
        + 2 ** len(CODE_FEATURES)
        - 1
        + len(ALONE)
        + 1
        + len(DATA_KINDS)
        - 1
        + other_tasks
    )
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (tmp_path / "test_wiring.py").write_text(WIRING)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            "test_wiring.py",
            *test_files,
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(roots),
            "MATRIX_DATA_DIR": str(mnist_root),
            "MATRIX_IMAGE_DIR": str(images),
            "MATRIX_MASKS_DIR": str(canvases),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    trained = sum(case["train"] for case in cases)
    assert passed >= len(test_files) + len(cases) + trained
    assert on_their_own
    for package, run in on_their_own.items():
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, f"{package}:\n{output[-4000:]}"
        assert re.search(r"\d+ passed", output)


def start_pytest(files, root, cwd):
    """pytest of `files` in `cwd` with `root` on the path, started, not awaited."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_project_with_precision_alone_passes_its_precision_tests(tmp_path):
    files = render(Options(name="mytrainer", metrics=("precision",)))
    root = write_tree(tmp_path, files)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["tests/test_precision_recall.py"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
