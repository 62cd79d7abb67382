"""Precision, Recall and F1 against small cases worked out by hand."""

import pytest
import torch

from mytrainer.metrics import NotComputableError
from mytrainer.metrics.precision_recall import F1, Precision, Recall

# Predicted 0, 2, 1, 1, 0 against true 0, 1, 1, 2, 0 with a class 3 nobody uses:
# class 0: 2 predicted, 2 true, 2 right; class 1: 2, 2, 1; class 2: 1, 1, 0.
MULTICLASS = (
    torch.eye(4)[torch.tensor([0, 2, 1, 1, 0])],
    torch.tensor([0, 1, 1, 2, 0]),
)


@pytest.mark.parametrize(
    "average, expected",
    [
        (None, [1, 1 / 2, 0, 0]),
        ("macro", (1 + 1 / 2) / 4),
        ("micro", 3 / 5),
        ("weighted", (2 * 1 + 2 * 1 / 2) / 5),
    ],
)
def test_precision_multiclass(average, expected, run_metric):
    precision = run_metric(Precision(average=average), [MULTICLASS])
    if average is None:
        assert precision.tolist() == pytest.approx(expected)
    else:
        assert precision == pytest.approx(expected)


def test_precision_binary_scores_the_positive_class(run_metric):
    y_pred = torch.tensor([0.9, 0.8, 0.1, 0.6])
    y = torch.tensor([1, 0, 0, 1])
    assert run_metric(Precision(average="binary"), [(y_pred, y)]) == pytest.approx(
        2 / 3
    )


@pytest.mark.parametrize(
    "average, expected",
    [(None, [1, 1 / 2, 0, 0]), ("macro", (1 + 1 / 2) / 4), ("micro", 3 / 5)],
)
def test_recall_multiclass(average, expected, run_metric):
    recall = run_metric(Recall(average=average), [MULTICLASS])
    if average is None:
        assert recall.tolist() == pytest.approx(expected)
    else:
        assert recall == pytest.approx(expected)


def test_recall_multilabel_per_column(run_metric):
    y_pred = torch.tensor([[1, 0, 1], [0, 1, 0]])
    y = torch.tensor([[1, 1, 0], [0, 1, 0]])
    recall = run_metric(Recall(average=None, is_multilabel=True), [(y_pred, y)])
    assert recall.tolist() == [1, 1 / 2, 0]


def test_f1_is_the_harmonic_mean_per_class(run_metric):
    f1 = run_metric(F1(average=None), [MULTICLASS])
    assert f1.tolist() == pytest.approx([1, 1 / 2, 0, 0])
    assert run_metric(F1(average="micro"), [MULTICLASS]) == pytest.approx(3 / 5)


def test_f1_rejects_binary_average_for_more_than_two_classes():
    with pytest.raises(ValueError, match="expected 2 classes .* got 4"):
        F1(average="binary").update(MULTICLASS)


@pytest.mark.parametrize("metric_class", [Precision, Recall, F1])
def test_scores_without_examples_cannot_be_computed(metric_class):
    with pytest.raises(NotComputableError, match="must have at least one example"):
        metric_class().compute()
