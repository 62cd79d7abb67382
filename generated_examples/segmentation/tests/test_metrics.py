"""Metrics against small cases worked out by hand."""

import pytest
import torch

from mytrainer.engine import Engine, Events
from mytrainer.metrics import Metric, NotComputableError, RunningAverage


class ExampleCount(Metric):
    """The smallest metric: how many examples it has seen."""

    accumulators = ("num_examples",)

    def update(self, output):
        self.accumulate("num_examples", torch.tensor(len(output[1])))

    def compute(self):
        self.require_examples()
        return int(self.num_examples)


def test_attached_metric_covers_the_latest_epoch():
    batches = [(torch.zeros(2), torch.zeros(2)), (torch.zeros(1), torch.zeros(1))]
    engine = Engine(lambda engine, batch: batch)
    ExampleCount().attach(engine, "count")
    # Reset at each epoch start: the second epoch does not add to the first.
    assert engine.run(batches, max_epochs=2).metrics["count"] == 3


@pytest.mark.parametrize(
    "metric",
    [RunningAverage(), ExampleCount()],
    ids=lambda metric: type(metric).__name__,
)
def test_metric_without_examples_cannot_be_computed(metric):
    with pytest.raises(NotComputableError, match="must have at least one example"):
        metric.compute()


def test_running_average_smooths_the_loss_and_stays_a_tensor():
    losses = [torch.tensor(4.0), torch.tensor(2.0), torch.tensor(0.0)]
    engine = Engine(lambda engine, loss: loss)
    RunningAverage(alpha=0.5).attach(engine, "loss")
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda engine: seen.append(engine.state.metrics["loss"]),
    )
    engine.run(losses)
    # 4, then 0.5 * 4 + 0.5 * 2 = 3, then 0.5 * 3 + 0.5 * 0 = 1.5
    assert all(isinstance(average, torch.Tensor) for average in seen)
    assert [float(average) for average in seen] == [4.0, 3.0, 1.5]
