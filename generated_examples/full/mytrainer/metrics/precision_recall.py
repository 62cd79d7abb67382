"""Precision, Recall, F1: per-class scores from true/predicted positive counts."""

from collections.abc import Callable
from typing import Any

import torch

from .base import Metric
from .classification import to_labels

AVERAGES = ("binary", "macro", "micro", "weighted", None)


class _PrecisionRecallBase(Metric):
    """Counts true, predicted and actual positives per class; subclasses score them.

    Input is binary, multiclass or (with `is_multilabel=True`) multilabel as in
    `classification.py`; binary input counts as the two classes 0 and 1.
    `average` picks what `compute` returns:
        "binary"    the score of class 1 (binary input only)
        "macro"     the mean of the per-class scores, every class counting equally
        "micro"     the score of the counts summed over classes
        "weighted"  the mean of per-class scores weighted by each class's true count
        None        a float64 tensor of per-class scores
    A class that never appears in the batches still counts. A score whose
    denominator is zero (e.g. precision of a class never predicted) is 0, never NaN.
    """

    accumulators = (
        "true_positives",
        "predicted_positives",
        "actual_positives",
        "num_examples",
    )
    higher_is_better = True

    def __init__(
        self,
        output_transform: Callable[[Any], Any] | None = None,
        average: str | None = "macro",
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        if average not in AVERAGES:
            raise ValueError(f"expected average in {AVERAGES}, got {average!r}")
        if average == "binary" and is_multilabel:
            raise ValueError("expected average other than 'binary' for multilabel")
        self.average = average
        if average is None:
            self.higher_is_better = None  # per-class scores: no one number
        self.is_multilabel = is_multilabel
        super().__init__(output_transform, device)

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        predicted, target, num_classes = to_labels(y_pred, y, self.is_multilabel)
        if self.average == "binary" and num_classes != 2:
            raise ValueError(
                f"expected 2 classes for average='binary', got {num_classes}"
            )
        if not self.is_multilabel:  # one 0/1 column per class, as for multilabel
            predicted = torch.nn.functional.one_hot(predicted, num_classes)
            target = torch.nn.functional.one_hot(target, num_classes)
        self.accumulate("true_positives", (predicted * target).sum(dim=0))
        self.accumulate("predicted_positives", predicted.sum(dim=0))
        self.accumulate("actual_positives", target.sum(dim=0))
        self.accumulate("num_examples", torch.tensor(len(y)))

    def compute(self) -> float | torch.Tensor:
        self.require_examples()
        counts = (self.true_positives, self.predicted_positives, self.actual_positives)
        if self.average == "micro":
            return float(self.score(*(count.sum() for count in counts)))
        per_class = self.score(*counts)
        if self.average is None:
            return per_class
        if self.average == "binary":
            return float(per_class[1])
        if self.average == "macro":
            return float(per_class.mean())
        weights = self.actual_positives
        return float(_divide((per_class * weights).sum(), weights.sum()))

    def score(
        self,
        true_positives: torch.Tensor,
        predicted_positives: torch.Tensor,
        actual_positives: torch.Tensor,
    ) -> torch.Tensor:
        raise NotImplementedError


def _divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator, with 0 wherever the denominator is 0."""
    safe = torch.where(denominator > 0, denominator, 1.0)
    return torch.where(denominator > 0, numerator / safe, 0.0)


class Precision(_PrecisionRecallBase):
    """Of the examples predicted as a class, the fraction that truly are."""

    def score(self, true_positives, predicted_positives, actual_positives):
        return _divide(true_positives, predicted_positives)


class Recall(_PrecisionRecallBase):
    """Of the examples truly of a class, the fraction predicted as it."""

    def score(self, true_positives, predicted_positives, actual_positives):
        return _divide(true_positives, actual_positives)


class F1(_PrecisionRecallBase):
    """The harmonic mean of precision and recall: 2 TP / (predicted + actual)."""

    def score(self, true_positives, predicted_positives, actual_positives):
        return _divide(2 * true_positives, predicted_positives + actual_positives)
