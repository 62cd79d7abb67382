"""The bench's side-by-side epochs: each path's time must be its own steps, a whole
epoch of them per repeat, or the ratio to the floor means nothing; and the
image-folder section runs through on a small folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from bench import imagefolder, segmentation
from bench.common import generated
from bench.epoch import TURN_STEPS, taking_turns
from scripts.datasets import digit_canvases


@pytest.mark.parametrize("batches", [23, 2 * TURN_STEPS, 7])
def test_each_path_is_timed_over_exactly_its_own_epoch(batches):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.LogSoftmax(dim=-1))
    forwards = []
    model.register_forward_hook(lambda *_: forwards.append(1))
    loader = generated("data.loaders").TensorLoader(
        torch.randn(batches * 4, 1, 28, 28),
        torch.randint(0, 10, (batches * 4,)),
        batch_size=4,
        shuffle=True,
    )
    loader.set_epoch(1)
    floor = list(loader)
    # A clock that counts forward passes: each path's "seconds" are the steps
    # taken while its own clock ran.
    times = taking_turns(
        lambda: (model, torch.optim.SGD(model.parameters(), lr=0.1)),
        loader,
        {"floor": floor, "again": floor},
        repeats=2,
        clock=lambda: float(len(forwards)),
    )

    paths = ("generated", "floor", "again")
    assert times == {name: [batches, batches] for name in paths}
    warm_up = min(TURN_STEPS, batches)
    assert len(forwards) == 3 * (warm_up + 2 * batches)


def write_folder(root, per_class):
    """ROOT/{train,val}/<class>/NN.png: 28-px grayscale noise, per_class of each of
    three classes in train, a tenth as many in val."""
    rng = np.random.default_rng(0)
    for split, count in (("train", per_class), ("val", per_class // 10)):
        for name in ("bag", "coat", "shirt"):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{index:02d}.png")
    return root


@pytest.fixture
def one_thread():
    # Two threads that wait on each other for a core slow small ops tenfold on a
    # busy machine; the smoke test needs no speed, only steadiness.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_imagefolder_section_runs_on_a_small_folder(tmp_path, one_thread):
    folder = write_folder(tmp_path / "images", per_class=40)

    rows = imagefolder.measure(
        folder, repeats=1, transfer_steps=1, transfer_epochs=1, batch=16
    )

    cases = [row.case for row in rows]
    assert len(rows) == 8 and len(set(cases)) == 8
    assert all(row.value > 0 for row in rows)
    assert "120 images" in rows[0].note  # the whole training folder, no more
    assert [row.goal != "" for row in rows] == [
        False, True, True, True, False, True, False, True
    ]  # fmt: skip
    assert all(isinstance(row.met, bool) for row in rows if row.goal)


@pytest.fixture(scope="module")
def small_canvases(tmp_path_factory):
    """48 training and 12 validation canvases with masks, of 64 px."""
    return digit_canvases(tmp_path_factory.mktemp("canvases"), train=48, val=12)


@pytest.mark.slow
def test_segmentation_paths_step_the_same_batches_each_on_its_own_clock(
    small_canvases, tmp_path, one_thread
):
    # Batches of 4: 12 steps an epoch, one turn of TURN_STEPS and 2 more.
    args = segmentation.train_args(small_canvases, tmp_path, batch=4)
    run = segmentation.Run(args, lambda steps: 3 * (TURN_STEPS + steps))
    inputs = []
    run.model.register_forward_hook(lambda _, args, __: inputs.append(args[0]))

    # A clock that counts forward passes: each path's "seconds" are the passes
    # its own clock saw.
    times = segmentation.taking_turns(run, repeats=1, clock=lambda: len(inputs))

    assert times == {
        "generated": [12],
        "raw loop": [12],
        "floor": [12],
        "validation": [1],  # one batch of 12
        "bare validation": [1],
    }
    # The timed epoch, after the warm-up's TURN_STEPS steps of each path and 2
    # validation passes: each path's TURN_STEPS steps in turn, then its last ones.
    turn, last = TURN_STEPS, 12 - TURN_STEPS
    epoch = inputs[3 * turn + 2 :][: 3 * 12]
    steps = {
        path: epoch[turn * i : turn * (i + 1)]
        + epoch[3 * turn + last * i : 3 * turn + last * (i + 1)]
        for i, path in enumerate(segmentation.PATHS)
    }
    for step in range(12):
        generated_batch = steps["generated"][step]
        for path in ("raw loop", "floor"):
            assert torch.equal(steps[path][step], generated_batch), (path, step)
    # Augmented: no two steps of an epoch see the same images.
    assert not torch.equal(steps["generated"][0], steps["generated"][1])


@pytest.mark.slow
def test_segmentation_section_runs_on_a_small_folder(small_canvases, one_thread):
    rows = segmentation.measure(small_canvases, repeats=1)

    cases = [row.case for row in rows]
    assert len(rows) == 5 and len(set(cases)) == 5
    assert all(row.value > 0 for row in rows)
    assert "48 images, batch 8, 6 steps" in rows[0].note  # the project's own batch
    assert [row.goal != "" for row in rows] == [False, False, True, False, False]
    assert isinstance(rows[2].met, bool)
