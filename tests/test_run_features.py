"""Every feature run: short trainings of real projects, and what they leave.

Each render-time feature trains 2 epochs of 3 batches through `python -m
mytrainer.train` in a project that has only that feature, and once with every
metric and feature on; the run-time choices (--scheduler, --amp, --loader,
--device) run too, each checked against what the README promises. Runs that
differ only in flags share one process through main(argv), so that torch is
imported once for them. Every run is pinned to --device cpu, so that a GPU
machine checks the same numbers; test_cuda.py covers the GPU.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create
from scaffold.registry import task_metrics

from .conftest import CHECKPOINT_KEYS, one_error_line, read_history, run_python

pytestmark = pytest.mark.slow  # trains, or runs a generated program

SHORT = ["--epochs", "2", "--epoch-length", "3", "--device", "cpu"]
LOSS_LINE = re.compile(r"^epoch \d+ \[\d+/3\] loss \d+\.\d{4}$", re.MULTILINE)
BEST_LINE = re.compile(r"^best (\w+) (\d+\.\d{4}) at epoch (\d+)$", re.MULTILINE)


def train_args(mnist_root, output_dir, *flags):
    """`python -m mytrainer.train` arguments for a short run into output_dir."""
    return ["-m", "mytrainer.train", *run_argv(mnist_root, output_dir, *flags)]


def run_argv(mnist_root, output_dir, *flags):
    """What main(argv) takes for a short run into output_dir."""
    return ["--data-dir", str(mnist_root), "--output-dir", output_dir, *SHORT, *flags]


# Several runs in one process: the seconds of importing torch are paid once.
TRAIN_EACH = """
import json
import sys

from mytrainer.train import main

for argv in json.loads(sys.argv[1]):
    main(argv)
"""


def train_each(root, runs):
    """Run main(argv) for each argv in runs, one after another in one process."""
    result = run_python(["-c", TRAIN_EACH, json.dumps(runs)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def project(tmp_path_factory, **options):
    """A project named mytrainer with these options, in a folder of its own."""
    folder = tmp_path_factory.mktemp("-".join(options) or "default")
    return create(Options(name="mytrainer", **options), folder)


def epoch_records(run_dir):
    """metrics.jsonl's rows without the time each epoch took."""
    rows = read_history(Path(run_dir) / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def scalars(log_dir, tag):
    """[(step, value)] of one TensorBoard scalar."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars(tag)]


# ---------------------------------------------------------------- no feature


@pytest.fixture(scope="module")
def plain(tmp_path_factory, mnist_root):
    """The default project (accuracy, nll; no feature) and its short run."""
    root = project(tmp_path_factory)
    result = run_python(train_args(mnist_root, "plain", "--log-interval", "1"), root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_a_run_without_features_prints_a_loss_line_per_interval_and_the_best_epoch(
    plain,
):
    root, result = plain
    history = read_history(root / "plain/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "seconds", "accuracy", "nll"}
    assert len(LOSS_LINE.findall(result.stdout)) == 6
    [(name, value, epoch)] = BEST_LINE.findall(result.stdout)
    best = max(history, key=lambda row: row["accuracy"])
    assert (name, value, int(epoch)) == (
        "accuracy",
        f"{best['accuracy']:.4f}",
        best["epoch"],
    )
    assert sorted(p.name for p in (root / "plain").iterdir()) == [
        "classes.json",
        "config.json",
        "last.pt",
        "metrics.jsonl",
        "model.pt",
    ]


@pytest.fixture(scope="module")
def variants(plain, mnist_root):
    """The plain run again with --amp off, --amp on and --loader dataloader."""
    root, _ = plain
    train_each(
        root,
        [
            run_argv(mnist_root, "amp-off", "--amp", "off"),
            run_argv(mnist_root, "amp-on", "--amp", "on"),
            run_argv(mnist_root, "dataloader", "--loader", "dataloader"),
        ],
    )
    return root


def test_amp_auto_and_off_train_in_float32_on_the_cpu_bit_for_bit(variants):
    assert epoch_records(variants / "amp-off") == epoch_records(variants / "plain")


def test_amp_on_trains_on_the_cpu_in_bfloat16_which_rounds_differently(variants):
    on, off = epoch_records(variants / "amp-on"), epoch_records(variants / "amp-off")
    assert [row["epoch"] for row in on] == [1, 2]
    assert [row["nll"] for row in on] != [row["nll"] for row in off]
    # ...but it is the same training: the same steps from one seed land close.
    for a, b in zip(on, off):
        assert abs(a["accuracy"] - b["accuracy"]) < 0.05
        assert a["nll"] < math.log(10)  # better than chance


def test_the_dataloader_path_gives_the_tensor_paths_numbers(variants):
    # The same seeded order of the same samples: the same steps up to rounding.
    loaded = epoch_records(variants / "dataloader")
    plain = epoch_records(variants / "plain")
    assert [row["epoch"] for row in loaded] == [1, 2]
    for a, b in zip(loaded, plain):
        assert a["accuracy"] == pytest.approx(b["accuracy"], abs=1e-6)
        assert a["nll"] == pytest.approx(b["nll"], rel=1e-5)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_cuda_without_a_gpu_is_a_one_line_usage_error(plain, mnist_root):
    root, _ = plain
    result = run_python(
        ["-m", "mytrainer.train", "--data-dir", str(mnist_root), "--device", "cuda"],
        cwd=root,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert one_error_line(result.stderr, 2) == (
        "error: argument --device: cuda: this machine has no CUDA device"
    )
    assert not (root / "runs").exists()


# Leaves importable only the standard library, the project, and torch and
# torchvision with what they require: every other installed top-level module is set
# to None in sys.modules, so `import x` raises ModuleNotFoundError and
# importlib.util.find_spec("x") answers None, as if it were not installed.
ONLY_TORCH = """
import importlib.metadata as metadata
import json
import pkgutil
import re
import site
import sys

def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()

allowed, wanted = set(), ["torch", "torchvision"]
while wanted:
    name = normalized(wanted.pop())
    if name in allowed:
        continue
    allowed.add(name)
    try:
        requires = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        continue  # required on other platforms only
    wanted += [re.match(r"[A-Za-z0-9._-]+", r)[0] for r in requires if "extra ==" not in r]

distributions = metadata.packages_distributions()  # top-level module: distributions
installed = {*distributions, *(m.name for m in pkgutil.iter_modules(site.getsitepackages()))}
for module in installed - set(sys.modules):
    if not any(normalized(name) in allowed for name in distributions.get(module, [])):
        sys.modules[module] = None
try:
    import typer  # installed here (scaffold needs it), but required by neither
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("typer was left importable")

from mytrainer.train import main

main(json.loads(sys.argv[1]))
"""


def test_the_generated_code_needs_only_torch_and_torchvision(plain, mnist_root):
    root, _ = plain
    argv = run_argv(mnist_root, "only-torch", "--epochs", "1", "--epoch-length", "1")
    result = run_python(["-c", ONLY_TORCH, json.dumps(argv)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    history = read_history(root / "only-torch/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1]


# ---------------------------------------------------------------- checkpoint


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory, mnist_root):
    """A checkpoint-only project trained 3 epochs, keeping the 2 lowest-nll epochs."""
    root = project(tmp_path_factory, checkpoint=True)
    result = run_python(
        train_args(
            mnist_root,
            "ckpt",
            *("--epochs", "3", "--monitor", "nll", "--monitor-mode", "min"),
            *("--keep-best", "2"),
        ),
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_checkpoint_run_keeps_the_last_two_epochs_each_with_every_state(checkpointed):
    root, _ = checkpointed
    folder = root / "ckpt/checkpoints"
    last = sorted(p.name for p in folder.glob("checkpoint-*"))
    assert last == ["checkpoint-00000006.pt", "checkpoint-00000009.pt"]
    state = torch.load(folder / "checkpoint-00000009.pt", weights_only=True)
    assert set(state) == set(CHECKPOINT_KEYS)
    assert state["trainer"] == {"iteration": 9, "epoch_length": 3, "max_epochs": 3}
    assert not list(folder.glob("*.tmp")), "a temporary file was left behind"


def test_monitor_nll_with_mode_min_keeps_the_lowest_nll_epochs_as_best(checkpointed):
    root, result = checkpointed
    history = read_history(root / "ckpt/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2, 3]
    lowest = sorted(history, key=lambda row: row["nll"])
    kept = sorted(p.name for p in (root / "ckpt/checkpoints").glob("best-*"))
    assert kept == sorted(
        f"best-{3 * row['epoch']:08d}-nll={row['nll']:.6g}.pt" for row in lowest[:2]
    )
    [(name, value, epoch)] = BEST_LINE.findall(result.stdout)
    assert (name, value, int(epoch)) == (
        "nll",
        f"{lowest[0]['nll']:.4f}",
        lowest[0]["epoch"],
    )


@pytest.fixture(scope="module")
def nan_run(checkpointed, mnist_root):
    """A constant learning rate of 1e39 that breaks the weights at the first
    step, checkpointing after every iteration."""
    root, _ = checkpointed
    return root, run_python(
        train_args(
            mnist_root,
            "nan",
            *("--lr", "1e39", "--scheduler", "none", "--checkpoint-every", "1"),
            *("--keep-last", "100"),
        ),
        cwd=root,
    )


@pytest.fixture(scope="module")
def nan_loss_run(checkpointed, mnist_root):
    """A learning rate of 1e30: the first step leaves huge but finite weights, so
    the second step's loss is NaN while the weights it started from were finite."""
    root, _ = checkpointed
    return root, run_python(
        train_args(
            mnist_root,
            "nan-loss",
            *("--lr", "1e30", "--scheduler", "none", "--checkpoint-every", "1"),
            *("--keep-last", "100"),
        ),
        cwd=root,
    )


def test_the_nan_guard_names_the_loss_before_the_checkpoint_of_its_step_runs(
    nan_loss_run,
):
    root, result = nan_loss_run
    assert result.returncode == 1
    expected = (
        "error: the training loss is nan at epoch 1, iteration 2; "
        "try a lower --lr or --clip-grad-norm"
    )
    assert result.stderr.strip().splitlines() == [expected]
    names = sorted(p.name for p in (root / "nan-loss/checkpoints").iterdir())
    assert names == ["checkpoint-00000001.pt"]


def test_a_nan_loss_ends_the_run_with_one_line_before_its_iteration_is_checkpointed(
    nan_run,
):
    root, result = nan_run
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    # Either the loss of a step is NaN, or a step left the weights non-finite
    # while its loss (computed before the step) was not: each stops the run.
    match = re.fullmatch(
        r"error: (?:the training loss is nan at epoch 1, iteration (\d+)|not writing "
        r"checkpoint-(\d{8})\.pt: the weights or the optimizer state hold NaN or "
        r"infinite values); try a lower --lr or --clip-grad-norm",
        line,
    )
    assert match, line
    bad = int(match[1] or match[2])
    written = sorted(
        int(re.search(r"\d{8}", p.name)[0])
        for p in (root / "nan/checkpoints").iterdir()
    )
    assert written == list(range(1, bad)), "a checkpoint of the NaN step was written"
    assert not (root / "nan/metrics.jsonl").exists()


def test_no_checkpoint_holds_non_finite_weights(nan_run):
    root, _ = nan_run
    for path in (root / "nan/checkpoints").iterdir():
        state = torch.load(path, weights_only=True)
        for name, tensor in state["model"].items():
            assert torch.isfinite(tensor).all(), f"{path.name}: {name}"


# ---------------------------------------------------------------- early stopping


def test_early_stopping_ends_a_run_whose_score_cannot_improve_by_min_delta(
    tmp_path_factory, mnist_root
):
    root = project(tmp_path_factory, early_stopping=True)
    # No accuracy improves by 1.0: the second epoch runs out a patience of 1.
    result = run_python(
        train_args(
            mnist_root,
            "early",
            *("--epochs", "5", "--patience", "1", "--min-delta", "1.0"),
        ),
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history = read_history(root / "early/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert (
        "early stopping at epoch 2: no improvement in accuracy for 1 epoch(s)"
        in result.stdout.splitlines()
    )
    assert BEST_LINE.search(result.stdout)


# ---------------------------------------------------------------- progress


@pytest.fixture(scope="module")
def progress_project(tmp_path_factory):
    return project(tmp_path_factory, progress=True)


def run_with_a_terminal_for_stderr(args, cwd, timeout=300):
    """Run python with args, its stderr a pseudo-terminal; (returncode, stdout,
    what was written to the terminal)."""
    controller, terminal = pty.openpty()
    # 24 rows of 100 columns: tqdm draws nothing on a terminal 0 columns wide.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    environment = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    written = b""
    try:
        while chunk := os.read(controller, 65536):
            written += chunk
    except OSError:  # EIO: every writer has closed the terminal
        pass
    finally:
        os.close(controller)
    stdout = process.stdout.read()
    process.wait(timeout)
    return process.returncode, stdout, written.decode(errors="replace")


def test_progress_draws_a_bar_per_epoch_on_a_terminal_instead_of_loss_lines(
    progress_project, mnist_root
):
    returncode, stdout, terminal = run_with_a_terminal_for_stderr(
        train_args(mnist_root, "bar", "--log-interval", "1"), progress_project
    )
    assert returncode == 0, terminal[-3000:]
    assert not LOSS_LINE.search(stdout), stdout
    assert "epoch 1 validation:" in stdout and "epoch 2 validation:" in stdout
    # tqdm redraws at most every 0.1 s, so the last frame drawn may be any batch.
    for epoch in (1, 2):
        assert re.search(rf"\repoch {epoch}/2: +\d+%\|.*?\| [0-3]/3 \[", terminal)


def test_progress_off_a_terminal_prints_the_loss_lines_and_nothing_to_stderr(
    progress_project, mnist_root
):
    result = run_python(
        train_args(mnist_root, "no-bar", "--log-interval", "1"), progress_project
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    # No bar to draw: the per-interval loss lines take its place (2 epochs of 3).
    assert len(LOSS_LINE.findall(result.stdout)) == 6, result.stdout
    assert len(read_history(progress_project / "no-bar/metrics.jsonl")) == 2


# ---------------------------------------------------------------- tensorboard


@pytest.fixture(scope="module")
def tensorboard_project(tmp_path_factory, mnist_root):
    """A tensorboard-only project recorded with --scheduler cosine, and its run with
    the default schedule, logging every iteration."""
    root = project(tmp_path_factory, tensorboard=True, scheduler="cosine")
    result = run_python(
        train_args(mnist_root, "default", "--log-interval", "1"), cwd=root
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_tensorboard_logs_the_loss_every_interval_and_each_validation(
    tensorboard_project,
):
    runs = tensorboard_project / "default"
    [event_file] = (runs / "tensorboard").iterdir()
    assert event_file.name.startswith("events.out.tfevents.")
    logged = scalars(runs / "tensorboard", "train/loss")
    assert [step for step, _ in logged] == [1, 2, 3, 4, 5, 6]
    history = read_history(runs / "metrics.jsonl")
    for name in ("accuracy", "nll", "train_loss"):
        logged = scalars(runs / "tensorboard", f"validation/{name}")
        assert [step for step, _ in logged] == [3, 6]
        assert [value for _, value in logged] == pytest.approx(
            [row[name] for row in history], rel=1e-6
        )


def learning_rates(run_dir):
    """The learning rate logged after each iteration, once the schedule stepped."""
    return [value for _, value in scalars(Path(run_dir) / "tensorboard", "train/lr")]


def test_the_recorded_scheduler_is_the_default_and_cosine_anneals_to_zero(
    tensorboard_project,
):
    # cosine's learning rate 0.003, annealed over the run's 6 steps.
    expected = [0.003 * (1 + math.cos(math.pi * step / 6)) / 2 for step in range(1, 7)]
    assert learning_rates(tensorboard_project / "default") == pytest.approx(
        expected, rel=1e-5, abs=1e-9
    )


@pytest.fixture(scope="module")
def schedules(tensorboard_project, mnist_root):
    """The other three schedules, each with its default learning rate."""
    train_each(
        tensorboard_project,
        [
            run_argv(
                mnist_root, name, "--scheduler", name, "--log-interval", "1", *more
            )
            for name, more in (
                ("onecycle", ()),
                ("step", ("--lr-step-epochs", "1")),
                ("none", ()),
            )
        ],
    )
    return tensorboard_project


def test_every_scheduler_trains_both_epochs(schedules):
    for name in ("default", "onecycle", "step", "none"):
        assert [
            row["epoch"] for row in read_history(schedules / name / "metrics.jsonl")
        ] == [1, 2], name


def test_onecycle_warms_up_to_its_peak_and_anneals_as_torch_computes_it(schedules):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.01, total_steps=6
    )
    expected = []
    for _ in range(6):
        optimizer.step()
        reference.step()
        expected.append(optimizer.param_groups[0]["lr"])
    assert learning_rates(schedules / "onecycle") == pytest.approx(expected, rel=1e-5)


def test_step_cuts_the_rate_by_gamma_every_lr_step_epochs(schedules):
    # Logged before the epoch's end steps the schedule: 3 at 0.003, then 3 cut.
    assert learning_rates(schedules / "step") == pytest.approx(
        [0.003] * 3 + [0.0003] * 3, rel=1e-6
    )


def test_none_keeps_the_rate_constant(schedules):
    assert learning_rates(schedules / "none") == pytest.approx([0.001] * 6, rel=1e-6)


# ---------------------------------------------------------------- plot


def test_plot_draws_a_panel_per_score_after_the_run(tmp_path_factory, mnist_root):
    from PIL import Image

    root = project(tmp_path_factory, plot=True)
    result = run_python(train_args(mnist_root, "plotted"), cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "training curves: plotted/training_curves.png" in result.stdout.splitlines()
    with Image.open(root / "plotted/training_curves.png") as image:
        image.verify()
        # train_loss, accuracy, nll: 4 by 3.2 inches each at 100 dpi.
        assert (image.format, image.size) == ("PNG", (1200, 320))


# ---------------------------------------------------------------- all on

ALL_FEATURES = {
    "checkpoint": True,
    "early_stopping": True,
    "progress": True,
    "tensorboard": True,
    "plot": True,
}


@pytest.fixture(scope="module")
def all_on_project(tmp_path_factory):
    return project(
        tmp_path_factory, metrics=task_metrics("classification"), **ALL_FEATURES
    )


@pytest.fixture(scope="module")
def all_on(all_on_project, mnist_root):
    root = all_on_project
    result = run_python(train_args(mnist_root, "runs", "--log-interval", "2"), root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


DIGIT_NAMES = ["zero", "one", "two", "three", "four"]
DIGIT_NAMES += ["five", "six", "seven", "eight", "nine"]


def test_all_on_records_every_metric_and_logs_the_loss_off_a_terminal(all_on):
    root, result = all_on
    history = read_history(root / "runs/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) == {
        "epoch",
        "train_loss",
        "seconds",
        *task_metrics("classification"),
    }
    # Keyed by class name: a row per true class, a count per predicted class.
    rows = history[-1]["confusion"]
    assert list(rows) == [f"{d} - {w}" for d, w in enumerate(DIGIT_NAMES)]
    assert all(list(row) == list(rows) for row in rows.values())
    confusion = torch.tensor([list(row.values()) for row in rows.values()])
    assert confusion.shape == (10, 10) and confusion.sum() == 1000
    # Printed the same way after each epoch: a row per true class, by name.
    printed = result.stdout.split("  confusion by class:\n")[-1].splitlines()[:10]
    assert [line.split()[:3] for line in printed] == [
        [str(d), "-", w] for d, w in enumerate(DIGIT_NAMES)
    ]
    assert [int(n) for n in printed[3].split()[3:]] == list(rows["3 - three"].values())
    assert result.stderr == ""  # the progress bar stays off a pipe
    assert LOSS_LINE.search(result.stdout), result.stdout  # loss lines instead
    [(name, _, _)] = BEST_LINE.findall(result.stdout)
    assert name == "accuracy"


def test_all_on_writes_checkpoints_tensorboard_events_and_a_plot(all_on):
    from PIL import Image

    root, result = all_on
    runs = root / "runs"
    names = sorted(p.name for p in (runs / "checkpoints").iterdir())
    assert names[1:] == ["checkpoint-00000003.pt", "checkpoint-00000006.pt"]
    assert re.fullmatch(r"best-0000000[36]-accuracy=0\.\d+\.pt", names[0])
    for tag, steps in (("train/loss", [2, 4, 6]), ("validation/f1", [3, 6])):
        assert [step for step, _ in scalars(runs / "tensorboard", tag)] == steps
    assert "training curves: runs/training_curves.png" in result.stdout.splitlines()
    with Image.open(runs / "training_curves.png") as image:
        # train_loss and the six one-number metrics; the confusion matrix is not.
        assert (image.format, image.size) == ("PNG", (1200, 960))  # a 3x3 grid


def test_all_on_projects_own_handler_tests_pass(all_on_project):
    root = all_on_project
    result = run_python(
        [
            *("-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("tests/test_handlers.py", "tests/test_checkpoint.py"),
            "tests/test_early_stopping.py",
        ],
        cwd=root,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    passed = re.search(r"^(\d+) passed", result.stdout, re.MULTILINE)
    assert passed and int(passed[1]) >= 10, result.stdout[-500:]


@pytest.fixture(scope="module")
def help_entries(all_on_project):
    """{flag: its help entry} of the all-on project's `train --help`."""
    result = run_python(["-m", "mytrainer.train", "--help"], cwd=all_on_project)
    assert result.returncode == 0, result.stderr
    entries = re.split(r"\n  (?=-)", result.stdout.split("options:", 1)[1])[1:]
    return {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries}


def test_help_lists_the_flags_of_every_feature(help_entries):
    assert {
        *("--resume", "--checkpoint-every", "--keep-last", "--keep-best"),
        *("--monitor", "--monitor-mode", "--patience", "--min-delta"),
        *("--amp", "--device", "--scheduler", "--loader", "--accumulate"),
        *("--clip-grad-norm", "--epoch-length", "--log-interval"),
    } <= set(help_entries)


def test_help_states_the_default_of_every_flag_that_takes_a_value(help_entries):
    # Present or not: no value, no default.
    switches = {"-h", "--compile", "--pretrained", "--freeze-backbone"}
    missing = [
        flag
        for flag, entry in help_entries.items()
        if flag not in switches and "(default:" not in entry
    ]
    assert missing == []
