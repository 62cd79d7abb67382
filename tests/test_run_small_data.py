"""A small training set trains with the defaults: a few hundred real digits in two
or three classes reach high accuracy with the project's own net and with resnet18
from scratch, the run saying in one line which batch size and how many epochs it
chose; and a class none of whose training images can be read is refused before
training, not trained as a class without images."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scaffold.options import Options
from scaffold.project import create
from scripts.datasets import sample_split

from .conftest import read_history, run_python

pytestmark = pytest.mark.slow  # trains

PACKAGE = "mytrainer"


def digit_folders(root: Path, classes: int, train: int, val: int) -> Path:
    """`train` real digits of each of the first `classes` classes in
    root/train/<digit>/, and `val` other ones in root/val/<digit>/."""
    splits = sample_split()
    for folder, split, count in (("train", "train", train), ("val", "test", val)):
        images, labels = splits[split]
        for digit in range(classes):
            target = root / folder / str(digit)
            target.mkdir(parents=True)
            for index in np.flatnonzero(labels == digit)[:count]:
                Image.fromarray(images[index]).save(target / f"{index}.png")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return create(
        Options(name=PACKAGE, data="imagefolder"), tmp_path_factory.mktemp("small")
    )


def train(project: Path, data: Path, out: str, *flags: str):
    """A run with every default but where the results go; the image cache in the
    default folder under a temporary XDG_CACHE_HOME."""
    return run_python(
        [
            *("-m", f"{PACKAGE}.train", "--data-dir", str(data), "--device", "cpu"),
            *("--output-dir", out, *flags),
        ],
        cwd=project,
        XDG_CACHE_HOME=str(project.parent / "xdg"),
    )


@pytest.mark.parametrize(
    ("model", "classes", "per_class", "batch", "epochs"),
    [("net", 3, 100, 8, 3), ("resnet18", 2, 100, 8, 4)],
    ids=["net-300-images", "resnet18-200-images"],
)
def test_a_few_hundred_images_train_to_high_accuracy_with_the_defaults(
    project, tmp_path, model, classes, per_class, batch, epochs
):
    data = digit_folders(tmp_path / "digits", classes, per_class, 30)
    result = train(project, data, f"runs/{model}", "--model", model)
    assert result.returncode == 0, result.stderr[-3000:]
    count = classes * per_class
    said = (
        f"data: {count} training samples, a small set: batches of {batch} and "
        f"{epochs} epochs (--batch-size and --epochs choose otherwise)"
    )
    assert said in result.stdout.splitlines(), result.stdout
    cache = project.parent / "xdg" / PACKAGE / "images"
    assert f"kept for later runs in {cache}" in result.stdout
    assert list(cache.glob("*.pt"))
    history = read_history(project / "runs" / model / "metrics.jsonl")
    assert len(history) == epochs
    assert max(row["accuracy"] for row in history) >= 0.95, history


def test_a_large_training_set_keeps_the_recipe(project):
    sys.path.insert(0, str(project))
    try:
        fit_to_data = importlib.import_module(f"{PACKAGE}.data.sizing").fit_to_data
    finally:
        sys.path.remove(str(project))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]

    def fitted(count, batch_size=None, epochs=None, epoch_length=None):
        args = argparse.Namespace(
            batch_size=batch_size, epochs=epochs, epoch_length=epoch_length
        )
        fit_to_data(args, count)
        return args.batch_size, args.epochs

    # MNIST, and the 4,000 digits of the README's demo: 31 steps of 128 an epoch.
    assert fitted(60_000) == fitted(4_000) == (128, 1)
    assert fitted(3_199) == (64, 2)  # 50 steps an epoch, 100 in all
    assert fitted(300) == (8, 3)
    assert fitted(6) == (8, 10)  # at most 10 epochs unless asked
    # What the user chose stays; the other is fitted around it.
    assert fitted(300, batch_size=32) == (32, 10)
    assert fitted(300, epochs=1) == (8, 1)
    assert fitted(300, epoch_length=5) == (8, 1)  # a smoke test stays short


def test_a_class_whose_images_cannot_be_read_is_refused_before_training(
    project, tmp_path
):
    data = digit_folders(tmp_path / "digits", 2, 10, 2)
    broken = data / "train" / "2"
    broken.mkdir()
    (broken / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (broken / "empty.jpg").write_bytes(b"")
    result = train(project, data, "runs/unreadable")
    assert result.returncode == 1
    *warnings, last = result.stderr.strip().splitlines()
    assert last == (
        "error: no training image of class 2 could be read (the warnings above "
        "name them); replace them, or move the class folder away"
    ), result.stderr
    assert "Traceback" not in result.stderr
    assert any("cut.png" in line for line in warnings), warnings
    assert any("empty.jpg" in line for line in warnings), warnings
    assert not (project / "runs" / "unreadable" / "metrics.jsonl").exists()
