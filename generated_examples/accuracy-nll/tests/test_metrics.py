"""Metrics against small cases worked out by hand."""

import pytest
import torch
import torch.nn.functional as F

from mytrainer.engine import Engine, Events
from mytrainer.metrics import (
    Accuracy,
    Loss,
    Metric,
    NotComputableError,
    RunningAverage,
)


class ExampleCount(Metric):
    """The smallest metric: how many examples it has seen."""

    accumulators = ("num_examples",)

    def update(self, output):
        self.accumulate("num_examples", torch.tensor(len(output[1])))

    def compute(self):
        self.require_examples()
        return int(self.num_examples)


def run_metric(metric, batches):
    """Feed (y_pred, y) batches to a fresh metric and return its value."""
    metric.reset()
    for batch in batches:
        metric.update(batch)
    return metric.compute()


def test_attached_metric_covers_the_latest_epoch():
    batches = [(torch.zeros(2), torch.zeros(2)), (torch.zeros(1), torch.zeros(1))]
    engine = Engine(lambda engine, batch: batch)
    ExampleCount().attach(engine, "count")
    # Reset at each epoch start: the second epoch does not add to the first.
    assert engine.run(batches, max_epochs=2).metrics["count"] == 3


@pytest.mark.parametrize(
    "metric",
    [
        Accuracy(),
        Loss(F.nll_loss),
        RunningAverage(),
        ExampleCount(),
    ],
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


def test_accuracy_binary_thresholds_probabilities_at_one_half():
    y_pred = torch.tensor([0.2, 0.5, 0.9, 0.4])
    y = torch.tensor([0, 1, 0, 1])
    assert run_metric(Accuracy(), [(y_pred, y)]) == pytest.approx(2 / 4)
    assert run_metric(Accuracy(), [(y_pred[:, None], y[:, None])]) == 0.5


def test_accuracy_multiclass_over_uneven_batches():
    y_pred = torch.tensor([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    y = torch.tensor([1, 2, 2])
    batches = [(y_pred[:1], y[:1]), (y_pred[1:], y[1:])]
    assert run_metric(Accuracy(), batches) == pytest.approx(2 / 3)


def test_accuracy_multilabel_counts_exact_matches_only():
    y_pred = torch.tensor([[1, 0, 1], [0, 1, 0], [0.9, 0.2, 0.1]])
    y = torch.tensor([[1, 0, 1], [0, 1, 1], [1, 0, 0]])
    assert run_metric(Accuracy(is_multilabel=True), [(y_pred, y)]) == pytest.approx(
        2 / 3
    )


def test_accuracy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="expected y_pred of shape .* got"):
        Accuracy().update((torch.rand(4, 3), torch.tensor([[0], [1], [2], [0]])))
    with pytest.raises(ValueError, match=r"expected integer class labels in y, got"):
        Accuracy().update((torch.rand(2, 3), torch.tensor([0.0, 1.0])))


def test_loss_is_averaged_per_example_not_per_batch():
    log_probs = torch.tensor([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]]).log()
    y = torch.tensor([0, 1, 0])
    batches = [(log_probs[:2], y[:2]), (log_probs[2:], y[2:])]
    expected = -(torch.tensor([0.5, 0.75, 0.9]).log().mean())
    assert run_metric(Loss(F.nll_loss), batches) == pytest.approx(expected.item())


def test_loss_rejects_unreduced_losses():
    loss = Loss(lambda y_pred, y: F.nll_loss(y_pred, y, reduction="none"))
    with pytest.raises(ValueError, match="expected loss_fn to return a scalar"):
        loss.update((torch.zeros(2, 3), torch.tensor([0, 1])))
