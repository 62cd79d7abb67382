"""What a run keeps, and how it ends early: model.pt holds the best epoch by
--monitor and last.pt the last one; predict and --weights take either, and any
training checkpoint; a Ctrl-C ends in one line naming the command that continues;
what is known before training (top-k's k against the classes, a batch of one for
BatchNorm) is refused before training, and a lone last sample never makes a batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create

from .conftest import one_error_line, read_history, run_python
from .test_imagefolder import write_images

pytestmark = pytest.mark.slow  # trains, or runs a generated program

EPOCHS = 3
EPOCH_LENGTH = 8


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, 12)
    return sorted(folder.iterdir())


@pytest.fixture(scope="module")
def kept(tmp_path_factory, mnist_root):
    """A checkpointed run whose best epoch is not its last: scored by the training
    loss, higher being better, its best epoch is the first (the loss falls)."""
    root = create(
        Options(name="mytrainer", checkpoint=True), tmp_path_factory.mktemp("kept")
    )
    result = run_python(
        [
            *("-m", "mytrainer.train", "--data-dir", str(mnist_root)),
            *("--epochs", str(EPOCHS), "--epoch-length", str(EPOCH_LENGTH)),
            *("--monitor", "train_loss", "--monitor-mode", "max"),
            *("--keep-best", "1", "--keep-last", "1", "--output-dir", "runs"),
        ],
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_weights(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name


def test_model_pt_holds_the_best_epoch_and_last_pt_the_last(kept):
    root, result = kept
    runs = root / "runs"
    history = read_history(runs / "metrics.jsonl")
    best = max(history, key=lambda row: row["train_loss"])
    assert best["epoch"] != EPOCHS, "the scenario needs a best epoch before the last"
    model, last = load(runs / "model.pt"), load(runs / "last.pt")
    assert (model["epoch"], last["epoch"]) == (best["epoch"], EPOCHS)
    [best_checkpoint] = (runs / "checkpoints").glob("best-*.pt")
    [last_checkpoint] = (runs / "checkpoints").glob("checkpoint-*.pt")
    assert_same_weights(model["state_dict"], load(best_checkpoint)["model"])
    assert_same_weights(last["state_dict"], load(last_checkpoint)["model"])
    assert f"model: runs/model.pt (epoch {best['epoch']}); last: runs/last.pt" in (
        result.stdout
    )


def predict(root: Path, checkpoint: Path, images: list[Path]):
    return run_python(
        [
            *("-m", "mytrainer.predict", "--checkpoint", str(checkpoint)),
            *map(str, images),
        ],
        cwd=root,
    )


def test_predict_takes_model_last_and_every_checkpoint_alike(kept, images):
    root, _ = kept
    runs = root / "runs"
    [best_checkpoint] = (runs / "checkpoints").glob("best-*.pt")
    [last_checkpoint] = (runs / "checkpoints").glob("checkpoint-*.pt")
    outputs = {}
    for name, path in {
        "model": runs / "model.pt",
        "best": best_checkpoint,
        "last": runs / "last.pt",
        "checkpoint": last_checkpoint,
    }.items():
        result = predict(root, path, images)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[name] = result.stdout
        assert len(result.stdout.splitlines()) == len(images)
    assert outputs["model"] == outputs["best"]
    assert outputs["last"] == outputs["checkpoint"]


def test_weights_starts_a_new_run_from_a_checkpoint(kept, mnist_root):
    root, _ = kept
    [last_checkpoint] = (root / "runs/checkpoints").glob("checkpoint-*.pt")
    result = run_python(
        [
            *("-m", "mytrainer.train", "--data-dir", str(mnist_root)),
            *("--weights", str(last_checkpoint), "--epoch-length", "1"),
            *("--lr", "1e-12", "--output-dir", "from-weights"),
        ],
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    started = load(root / "from-weights/last.pt")["state_dict"]
    weights = load(last_checkpoint)["model"]
    # One step at a learning rate of 1e-12 leaves the planted weights as they were.
    for name, tensor in weights.items():
        if tensor.is_floating_point() and "running" not in name:
            assert torch.allclose(started[name], tensor, atol=1e-6), name


def test_predict_refuses_a_file_that_is_no_model_in_one_line(kept, images):
    root, _ = kept
    not_a_model = root / "runs/metrics.jsonl"
    result = predict(root, not_a_model, images[:1])
    assert result.returncode == 1
    assert one_error_line(result.stderr, 1) == (
        f"error: {not_a_model}: not a model.pt, last.pt or checkpoint that train wrote"
    )
    assert "weights_only" not in result.stderr


def test_predict_says_in_one_line_when_the_weights_no_longer_fit_the_code(
    kept, images, tmp_path
):
    root, _ = kept
    saved = load(root / "runs/model.pt")
    # As if Net had been edited since: a layer the saved weights know is gone.
    saved["state_dict"] = {
        name: tensor
        for name, tensor in saved["state_dict"].items()
        if not name.startswith("classifier.3.")
    }
    torch.save(saved, tmp_path / "edited.pt")
    result = predict(root, tmp_path / "edited.pt", images[:1])
    assert result.returncode == 1
    line = one_error_line(result.stderr, 1)
    assert line.startswith(f"error: {tmp_path / 'edited.pt'}: its weights do not fit")
    assert line.endswith("was the model edited since?")


@pytest.mark.usefixtures("take_ctrl_c")
def test_ctrl_c_ends_in_one_line_that_names_the_command_that_continues(
    kept, mnist_root
):
    root, _ = kept
    flags = [
        *("--data-dir", str(mnist_root), "--epochs", "2", "--epoch-length", "60"),
        *("--checkpoint-every", "5", "--output-dir", "stopped"),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "mytrainer.train", *flags],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    checkpoints = root / "stopped/checkpoints"
    while not (checkpoints.is_dir() and any(checkpoints.glob("checkpoint-*.pt"))):
        assert process.poll() is None, process.stderr.read()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130
    line = one_error_line(stderr, 130)
    where, command = line.split("; continue with: ")
    assert where.startswith("error: interrupted at epoch 1, iteration ")
    assert command == " ".join(
        ["python", "-m", "mytrainer.train", *flags, "--resume", "last"]
    )
    resumed = run_python(command.split()[1:], cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [row["epoch"] for row in read_history(root / "stopped/metrics.jsonl")] == [
        1,
        2,
    ]


def test_a_batch_of_one_for_batchnorm_is_refused_before_any_work(kept, mnist_root):
    root, _ = kept
    result = run_python(
        [
            *("-m", "mytrainer.train", "--data-dir", str(mnist_root)),
            *("--batch-size", "1", "--output-dir", "one"),
        ],
        cwd=root,
    )
    assert result.returncode == 2
    assert one_error_line(result.stderr, 2) == (
        "error: argument --batch-size: one sample a step (per process), on which "
        "the BatchNorm1d layers of net cannot train; use 2 or more"
    )
    assert not (root / "one").exists()


def test_a_last_batch_of_one_sample_is_left_out_and_the_run_completes(tmp_path):
    # 9 training images in batches of 8: without the rule, a second batch of one.
    root = create(Options(name="mytrainer", data="imagefolder"), tmp_path)
    data = tmp_path / "two"
    write_images(data / "train/a", 5)
    write_images(data / "train/b", 4, start=5)
    write_images(data / "val/a", 2)
    write_images(data / "val/b", 2, start=2)
    result = run_python(
        [
            *("-m", "mytrainer.train", "--data-dir", str(data)),
            *("--batch-size", "8", "--output-dir", "runs"),
        ],
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch 1 validation" in result.stdout


def test_top_k_beyond_the_classes_is_refused_before_training(tmp_path):
    root = create(
        Options(name="mytrainer", data="imagefolder", metrics=("accuracy", "topk")),
        tmp_path,
    )
    data = tmp_path / "three"
    for index, name in enumerate("abc"):
        write_images(data / "train" / name, 4, start=4 * index)
        write_images(data / "val" / name, 1, start=4 * index)
    result = run_python(
        ["-m", "mytrainer.train", "--data-dir", str(data), "--output-dir", "runs"],
        cwd=root,
    )
    assert result.returncode == 1
    assert one_error_line(result.stderr, 1) == (
        "error: metric topk: top-5 accuracy needs at least 5 classes, got 3; "
        "see evaluation.py"
    )
    assert "validation:" not in result.stdout  # no epoch ran
    assert not (root / "runs").exists()


def test_a_validation_folder_without_a_training_class_is_named_in_one_warning(
    tmp_path,
):
    root = create(Options(name="mytrainer", data="imagefolder"), tmp_path)
    data = tmp_path / "partial"
    for index, name in enumerate("abc"):
        write_images(data / "train" / name, 4, start=4 * index)
    for index, name in enumerate("ab"):
        write_images(data / "val" / name, 2, start=4 * index)
    result = run_python(
        ["-m", "mytrainer.train", "--data-dir", str(data), "--output-dir", "runs"],
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stdout.splitlines() if "warning" in line]
    warning = "warning: no validation images of c; macro-averaged scores count "
    assert warnings == [warning + "each such class as 0"]


def test_evaluate_prints_the_scores_training_recorded_for_the_saved_epoch(
    kept, mnist_root
):
    root, _ = kept
    history = read_history(root / "runs/metrics.jsonl")
    for saved, row in (("model.pt", history[0]), ("last.pt", history[-1])):
        result = run_python(
            [
                *("-m", "mytrainer.evaluate", "--data-dir", str(mnist_root)),
                *("--checkpoint", f"runs/{saved}"),
            ],
            cwd=root,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        line = result.stdout.splitlines()[0]
        expected = f"accuracy {row['accuracy']:.4f}  nll {row['nll']:.4f}"
        assert line.startswith(f"runs/{saved}: {expected}  ("), line
