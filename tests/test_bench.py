"""The bench's side-by-side epochs: each path's time must be its own steps, a whole
epoch of them per repeat, or the ratio to the floor means nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.common import generated
from bench.epoch import TURN_STEPS, taking_turns


@pytest.mark.parametrize("batches", [23, 2 * TURN_STEPS, 7])
def test_each_path_is_timed_over_exactly_its_own_epoch(batches):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.LogSoftmax(dim=-1))
    forwards = []
    model.register_forward_hook(lambda *_: forwards.append(1))
    loader = generated("data").TensorLoader(
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
