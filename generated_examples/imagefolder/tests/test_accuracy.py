"""Accuracy against small cases worked out by hand."""

import pytest
import torch

from mytrainer.metrics import Accuracy, NotComputableError


def test_accuracy_binary_thresholds_probabilities_at_one_half(run_metric):
    y_pred = torch.tensor([0.2, 0.5, 0.9, 0.4])
    y = torch.tensor([0, 1, 0, 1])
    assert run_metric(Accuracy(), [(y_pred, y)]) == pytest.approx(2 / 4)
    assert run_metric(Accuracy(), [(y_pred[:, None], y[:, None])]) == 0.5


def test_accuracy_multiclass_over_uneven_batches(run_metric):
    y_pred = torch.tensor([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.2, 0.3, 0.5]])
    y = torch.tensor([1, 2, 2])
    batches = [(y_pred[:1], y[:1]), (y_pred[1:], y[1:])]
    assert run_metric(Accuracy(), batches) == pytest.approx(2 / 3)


def test_accuracy_multilabel_counts_exact_matches_only(run_metric):
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


def test_accuracy_without_examples_cannot_be_computed():
    with pytest.raises(NotComputableError, match="must have at least one example"):
        Accuracy().compute()
