"""Accuracy: the fraction of examples predicted exactly right."""

from collections.abc import Callable
from typing import Any

import torch

from .base import Metric
from .classification import to_labels


class Accuracy(Metric):
    """Fraction of correct predictions over all examples seen.

    Takes binary, multiclass or (with `is_multilabel=True`) multilabel input as
    described in `classification.py`. A multilabel example counts as correct only
    when every one of its labels is right (the exact-match ratio).
    """

    accumulators = ("num_correct", "num_examples")
    higher_is_better = True

    def __init__(
        self,
        output_transform: Callable[[Any], Any] | None = None,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
    ) -> None:
        self.is_multilabel = is_multilabel
        super().__init__(output_transform, device)

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        predicted, target, _ = to_labels(y_pred, y, self.is_multilabel)
        correct = predicted == target
        if self.is_multilabel:
            correct = correct.all(dim=1)
        self.accumulate("num_correct", correct.sum())
        self.accumulate("num_examples", torch.tensor(len(correct)))

    def compute(self) -> float:
        self.require_examples()
        return float(self.num_correct / self.num_examples)


# The name earlier versions of this API used for multiclass accuracy.
CategoricalAccuracy = Accuracy
