"""The bench's side-by-side epochs: each path's time must be its own steps, a whole
epoch of them per repeat, or the ratio to the floor means nothing; and the
image-folder section runs through on a small folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from bench import imagefolder
from bench.common import generated
from bench.epoch import TURN_STEPS, taking_turns


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
