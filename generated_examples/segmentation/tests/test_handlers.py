"""The training step's options and the NaN guard."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mytrainer.engine import Engine, Events, create_supervised_trainer
from mytrainer.handlers import stop_on_non_finite_loss
from mytrainer.handlers.nan_guard import NonFiniteLoss


def linear_model():
    # No BatchNorm or dropout: each sample's gradient is independent of its batch.
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def batches(count, size):
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(size, 1, 28, 28, generator=generator), torch.arange(size) % 10)
        for _ in range(count)
    ]


def train(model, data, **options):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    trainer = create_supervised_trainer(model, optimizer, F.cross_entropy, **options)
    trainer.run(data, max_epochs=1)
    return trainer


def test_accumulating_four_batches_of_8_steps_like_one_batch_of_32():
    small = batches(4, 8)
    large = [(torch.cat([x for x, _ in small]), torch.cat([y for _, y in small]))]
    accumulated, single = linear_model(), linear_model()

    train(accumulated, small, accumulation_steps=4)
    train(single, large)

    for a, b in zip(accumulated.parameters(), single.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert all(p.grad is None for p in accumulated.parameters())


def test_clipping_bounds_the_gradient_norm_of_each_step():
    model = linear_model()
    before = [p.detach().clone() for p in model.parameters()]

    # SGD moves the parameters by lr * gradient: the step's norm bounds the gradient's.
    train(model, batches(1, 32), clip_grad_norm=0.01)

    moved = zip(before, model.parameters(), strict=True)
    step = torch.cat([(a - p).flatten() for a, p in moved])
    assert 0 < step.norm() <= 0.5 * 0.01 * (1 + 1e-5)


def test_non_finite_loss_stops_the_run_with_a_clear_message():
    trainer = Engine(lambda engine, batch: torch.tensor(batch))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, stop_on_non_finite_loss)

    with pytest.raises(NonFiniteLoss, match="loss is nan at epoch 1, iteration 3"):
        trainer.run([1.0, 2.0, math.nan, 4.0])
    assert trainer.state.iteration == 3


def test_an_infinite_loss_stops_the_run_too():
    trainer = Engine(lambda engine, batch: torch.tensor(batch))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, stop_on_non_finite_loss)

    with pytest.raises(NonFiniteLoss, match="loss is inf at epoch 1, iteration 2"):
        trainer.run([1.0, math.inf, 3.0])
