"""ConfusionMatrix against small cases worked out by hand."""

import pytest
import torch

from mytrainer.metrics import ConfusionMatrix, NotComputableError


def test_confusion_matrix_rows_are_true_classes(run_metric):
    y_pred = torch.tensor([0, 2, 1, 1, 0])
    y = torch.tensor([0, 1, 1, 2, 0])
    matrix = run_metric(ConfusionMatrix(num_classes=3), [(y_pred, y)])
    assert matrix.tolist() == [[2, 0, 0], [0, 1, 1], [0, 1, 0]]
    normalized = run_metric(
        ConfusionMatrix(num_classes=3, normalize="true"), [(y_pred, y)]
    )
    assert normalized.tolist() == [[1, 0, 0], [0, 0.5, 0.5], [0, 1, 0]]


def test_confusion_matrix_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"expected labels in \[0, 3\), got"):
        ConfusionMatrix(num_classes=3).update((torch.tensor([3]), torch.tensor([0])))


def test_confusion_matrix_without_examples_cannot_be_computed():
    with pytest.raises(NotComputableError, match="must have at least one example"):
        ConfusionMatrix(num_classes=3).compute()
