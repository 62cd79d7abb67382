"""TopKAccuracy against small cases worked out by hand."""

import pytest
import torch

from mytrainer.metrics import NotComputableError, TopKAccuracy


def test_topk_accuracy_counts_the_true_class_among_the_k_best(run_metric):
    y_pred = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    y = torch.tensor([2, 1, 0])
    # Top-2 sets: {0, 1}, {2, 1}, {1, 2}.
    assert run_metric(TopKAccuracy(k=2), [(y_pred, y)]) == pytest.approx(1 / 3)
    assert run_metric(TopKAccuracy(k=3), [(y_pred, y)]) == 1.0


def test_topk_accuracy_needs_k_classes():
    with pytest.raises(ValueError, match="expected y_pred with at least k=5"):
        TopKAccuracy().update((torch.rand(2, 3), torch.tensor([0, 1])))


def test_topk_accuracy_checks_the_class_count_before_any_batch():
    TopKAccuracy(k=3).check_classes(3)
    with pytest.raises(ValueError, match="top-5 accuracy needs at least 5 classes"):
        TopKAccuracy().check_classes(4)


def test_topk_accuracy_without_examples_cannot_be_computed():
    with pytest.raises(NotComputableError, match="must have at least one example"):
        TopKAccuracy().compute()
