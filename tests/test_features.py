"""Training features (issue 5): options, generated code, and what the features do when run.

Subprocess runs use --epoch-length to keep epochs to a few batches of the real MNIST
sample; the kill tests SIGKILL a run as soon as a watched checkpoint file appears.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import RECORD_FILE, create, read_record
from scaffold.registry import FEATURES, SCHEDULERS
from scaffold.render import render

from .conftest import read_history, run_python

runner = CliRunner()
ALL_ON = {
    "checkpoint": True,
    "early_stopping": True,
    "amp": True,
    "progress": True,
    "tensorboard": True,
    "plot": True,
}
# Fast to start: no tensorboard or matplotlib imports (seconds each on a busy machine).
RESUMABLE = {"checkpoint": True, "early_stopping": True, "amp": True}
SHORT = ["--epochs", "2", "--epoch-length", "6"]


def test_list_and_help_describe_every_feature():
    listed = runner.invoke(app, ["list"]).output
    helped = " ".join(
        runner.invoke(app, ["new", "--help"], terminal_width=200).output.split()
    )
    for name in FEATURES:
        flag = "--" + name.replace("_", "-")
        assert re.search(
            rf"^  {flag}\b.* {re.escape(FEATURES[name].summary)}$", listed, re.MULTILINE
        ), flag
        assert flag in helped
    assert "--scheduler onecycle|cosine|step|none" in listed


def test_new_records_the_features_and_generates_only_their_files(tmp_path):
    result = runner.invoke(
        app,
        [
            "new",
            "mytrainer",
            "-o",
            str(tmp_path),
            "--checkpoint",
            "--scheduler",
            "cosine",
            "--plot",
        ],
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "mytrainer"
    options = read_record(root).options
    chosen = (options.checkpoint, options.scheduler, options.plot)
    assert chosen == (True, "cosine", True)
    assert (
        options.early_stopping,
        options.amp,
        options.progress,
        options.tensorboard,
    ) == (False,) * 4
    handlers = sorted(p.name for p in (root / "mytrainer/handlers").iterdir())
    assert handlers == ["__init__.py", "checkpoint.py", "nan_guard.py", "plot.py"]
    train = (root / "mytrainer/train.py").read_text()
    assert "CosineAnnealingLR" in train and "OneCycleLR" not in train
    pyproject = (root / "pyproject.toml").read_text()
    assert (
        '"matplotlib>=3.7"' in pyproject
        and "tqdm" not in pyproject
        and "tensorboard" not in pyproject
    )


def test_a_bad_scheduler_is_a_one_line_error_and_writes_nothing(tmp_path):
    result = runner.invoke(
        app, ["new", "mytrainer", "-o", str(tmp_path), "--scheduler", "linear"]
    )
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "error: unknown scheduler 'linear'; choose from onecycle, cosine, step, none"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_record_without_the_feature_fields_loads_with_their_defaults(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    record = json.loads((root / RECORD_FILE).read_text())
    record["options"] = {
        "name": "mytrainer",
        "metrics": ["accuracy", "nll"],
        "cuda": False,
    }
    (root / RECORD_FILE).write_text(json.dumps(record))
    assert read_record(root).options == Options(name="mytrainer")


def test_update_adds_a_feature_and_its_dependency(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    result = runner.invoke(
        app, ["update", str(root), "--progress", "--scheduler", "step"]
    )
    assert result.exit_code == 0, result.output
    assert read_record(root).options == Options(
        name="mytrainer", progress=True, scheduler="step"
    )
    assert (root / "mytrainer/handlers/progress.py").is_file()
    assert '"tqdm>=4.66"' in (root / "pyproject.toml").read_text()
    assert "StepLR" in (root / "mytrainer/train.py").read_text()


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_each_scheduler_renders_only_its_own_code(scheduler):
    train = render(Options(name="mytrainer", scheduler=scheduler))["mytrainer/train.py"]
    names = {"onecycle": "OneCycleLR", "cosine": "CosineAnnealingLR", "step": "StepLR"}
    assert [n for s, n in names.items() if n in train] == [
        names[s] for s in names if s == scheduler
    ]
    assert ("scheduler.step()" in train) == (scheduler != "none")


# ---------------------------------------------------------------- run time


def train_args(mnist_root, output_dir, *extra):
    return [
        "-m",
        "mytrainer.train",
        "--data-dir",
        str(mnist_root),
        "--output-dir",
        str(output_dir),
        *SHORT,
        *extra,
    ]


@pytest.fixture(scope="module")
def all_on(tmp_path_factory, mnist_root):
    root = create(
        Options(name="mytrainer", **ALL_ON), tmp_path_factory.mktemp("all-on")
    )
    result = run_python(train_args(mnist_root, "runs", "--log-interval", "2"), cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_all_features_train_and_write_history_checkpoints_events_and_a_plot(all_on):
    root, result = all_on
    runs = root / "runs"
    history = read_history(runs / "metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert sorted(p.name for p in (runs / "checkpoints").iterdir()) == [
        f"best-{12 if history[1]['accuracy'] > history[0]['accuracy'] else 6:08d}-accuracy={max(r['accuracy'] for r in history):.6g}.pt",
        "checkpoint-00000006.pt",
        "checkpoint-00000012.pt",
    ]
    state = torch.load(runs / "checkpoints/checkpoint-00000012.pt", weights_only=True)
    assert set(state) == {
        "model",
        "optimizer",
        "scheduler",
        "early_stopping",
        "trainer",
        "gradients",
        "random_states",
    }
    assert state["trainer"]["iteration"] == 12

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6, 8, 10, 12]
    accuracy = [
        (e.step, round(e.value, 6)) for e in events.Scalars("validation/accuracy")
    ]
    assert accuracy == [
        (6, round(history[0]["accuracy"], 6)),
        (12, round(history[1]["accuracy"], 6)),
    ]

    from PIL import Image

    with Image.open(runs / "training_curves.png") as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] >= 800 and image.size[1] >= 250
    assert "training curves: runs/training_curves.png" in result.stdout


def test_the_projects_own_handler_tests_pass_with_every_feature(all_on):
    root, _ = all_on
    result = run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_handlers.py"],
        cwd=root,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    # accumulation, clipping, NaN guard, 2 early stopping, its state, 3 checkpoint tests
    assert re.search(r"^9 passed", result.stdout, re.MULTILINE), result.stdout[-500:]


def test_help_documents_every_flag_with_its_default(resumable):
    root, _ = resumable
    result = run_python(["-m", "mytrainer.train", "--help"], cwd=root)
    assert result.returncode == 0, result.stderr
    entries = re.split(r"\n  (?=-)", result.stdout.split("options:", 1)[1])[1:]
    flags = [entry.split()[0].rstrip(",") for entry in entries]
    assert {
        "--resume",
        "--checkpoint-every",
        "--keep-last",
        "--keep-best",
        "--monitor",
        "--monitor-mode",
        "--patience",
        "--min-delta",
        "--amp",
        "--accumulate",
        "--clip-grad-norm",
        "--epoch-length",
    } <= set(flags)
    for entry in entries:
        if not entry.startswith("-h"):
            assert "(default:" in " ".join(entry.split()), entry


# ---------------------------------------------------------------- exact resume


@pytest.fixture(scope="module")
def resumable(tmp_path_factory, mnist_root):
    root = create(
        Options(name="mytrainer", **RESUMABLE), tmp_path_factory.mktemp("resume")
    )
    # Mid-epoch checkpoints at iterations 3 and 9, epoch ends at 6 and 12; with
    # --accumulate 2 the one at 9 is taken between the two halves of an optimizer step.
    extra = (
        "--checkpoint-every",
        "3",
        "--accumulate",
        "2",
        "--clip-grad-norm",
        "1.0",
        "--keep-last",
        "10",
        "--amp",
    )

    def args(output_dir, *more):
        return train_args(mnist_root, output_dir, *extra, *more)

    reference = run_python(args("reference"), cwd=root)
    assert reference.returncode == 0, reference.stderr[-3000:]
    return root, args


def final_state(run_dir):
    return torch.load(
        Path(run_dir) / "checkpoints/checkpoint-00000012.pt", weights_only=True
    )


def assert_same_training(run_dir, reference_dir):
    got, expected = final_state(run_dir), final_state(reference_dir)
    assert got["trainer"] == expected["trainer"]
    assert got["model"].keys() == expected["model"].keys()
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    for index, values in expected["optimizer"]["state"].items():
        saved = got["optimizer"]["state"][index]
        for key, tensor in values.items():
            assert torch.equal(saved[key], tensor), (index, key)
    assert (
        read_history(Path(run_dir) / "metrics.jsonl")[-1]["accuracy"]
        == read_history(Path(reference_dir) / "metrics.jsonl")[-1]["accuracy"]
    )


def kill_when_written(args, cwd, watched: Path, timeout=300):
    """Run python with args, SIGKILL it as soon as `watched` exists, and check it was
    still running then (so it really was interrupted)."""
    environment = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not watched.exists():
            assert (
                process.poll() is None
            ), f"ended before writing {watched}: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, f"no {watched} after {timeout}s"
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL


def test_killed_at_an_epoch_end_and_mid_epoch_resumes_to_identical_weights(resumable):
    root, args = resumable
    checkpoints = root / "killed/checkpoints"
    kill_when_written(args("killed"), root, checkpoints / "checkpoint-00000006.pt")
    # Resume from the epoch boundary; kill again mid-epoch, mid-accumulation.
    kill_when_written(
        args("killed", "--resume", str(checkpoints / "checkpoint-00000006.pt")),
        root,
        checkpoints / "checkpoint-00000009.pt",
    )
    shutil.copytree(root / "killed", root / "truncated")

    resumed = run_python(
        args("killed", "--resume", str(checkpoints / "checkpoint-00000009.pt")),
        cwd=root,
    )

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout and "at iteration 9" in resumed.stdout
    history = read_history(root / "killed/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert_same_training(root / "killed", root / "reference")


def test_amp_autocasts_on_the_cpu_only_when_asked(resumable, mnist_root):
    root, _ = resumable
    weights = {}
    for out, flags in (
        ("amp-auto", ()),
        ("amp-off", ("--no-amp",)),
        ("amp-on", ("--amp",)),
    ):
        result = run_python(train_args(mnist_root, out, *flags), cwd=root)
        assert result.returncode == 0, result.stderr[-3000:]
        weights[out] = final_state(root / out)["model"]
    # "auto" trains in float32 on the CPU, bit for bit; bfloat16 autocast rounds differently.
    assert all(
        torch.equal(weights["amp-auto"][name], w)
        for name, w in weights["amp-off"].items()
    )
    assert not all(
        torch.equal(weights["amp-on"][name], w)
        for name, w in weights["amp-off"].items()
    )


SCALER_RUN = """
import torch
import torch.nn.functional as F
from mytrainer.engine import Events
from mytrainer.model import Net
from mytrainer.supervised import create_supervised_trainer

def train(scaler, overflow_at=None):
    torch.manual_seed(0)
    model = Net()
    # As train.py builds it: fused AdamW takes the scaler's found-inf flag itself.
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, fused=True)
    head = model.classifier[-1].weight
    trainer = create_supervised_trainer(
        model, optimizer, F.nll_loss, clip_grad_norm=1.0, scaler=scaler
    )
    # An infinite gradient at one iteration, as a float16 overflow would give.
    head.register_hook(
        lambda grad: grad * float("inf") if trainer.state.iteration == overflow_at else grad
    )
    heads = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: heads.append(head.detach().clone()))
    batches = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(4)]
    trainer.run(batches, max_epochs=1)
    return heads, scaler

plain, _ = train(None)
scaled, scaler = train(torch.amp.GradScaler("cpu", init_scale=2.0**12))
# Scaling by a power of two and back is exact: the same steps as without a scaler.
assert all(torch.allclose(a, b, rtol=1e-6, atol=0) for a, b in zip(plain, scaled))
assert scaler.get_scale() == 2.0**12
skipped, scaler = train(torch.amp.GradScaler("cpu", init_scale=2.0**12), overflow_at=2)
assert torch.equal(skipped[1], skipped[0]), "the overflowing step was taken"
assert not torch.equal(skipped[2], skipped[1]), "training did not go on"
assert scaler.get_scale() == 2.0**11
print("ok")
"""


def test_a_loss_scaler_steps_the_fused_optimizer_exactly_and_skips_overflows(tmp_path):
    root = create(Options(name="mytrainer", cuda=True, amp=True), tmp_path)
    result = run_python(["-c", SCALER_RUN], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


def test_a_truncated_checkpoint_is_rejected_by_name_and_last_takes_the_previous(
    resumable,
):
    root, args = resumable
    if not (root / "truncated").exists():
        pytest.skip("needs the directory the kill test leaves")
    newest = root / "truncated/checkpoints/checkpoint-00000009.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])

    rejected = run_python(args("truncated", "--resume", str(newest)), cwd=root)
    assert rejected.returncode == 1
    assert rejected.stderr.strip().splitlines() == [
        f"error: {newest} is not a readable checkpoint (truncated or corrupt?): "
        + rejected.stderr.split("(truncated or corrupt?): ", 1)[1].strip()
    ]

    resumed = run_python(args("truncated", "--resume", "last"), cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    relative = newest.relative_to(root)  # as the run finds it in --output-dir
    assert f"warning: {relative} is not a readable checkpoint" in resumed.stdout
    assert "trying the one before" in resumed.stdout
    assert "at iteration 6" in resumed.stdout
    assert_same_training(root / "truncated", root / "reference")


def test_a_fresh_run_refuses_a_folder_holding_checkpoints(resumable):
    root, args = resumable
    result = run_python(args("reference"), cwd=root)
    assert result.returncode == 1
    assert (
        "holds checkpoints of an earlier run; continue it with --resume last"
        in result.stderr
    )
