"""TopKAccuracy: how often the true class is among the k highest scores."""

from collections.abc import Callable
from typing import Any

import torch

from .base import Metric


class TopKAccuracy(Metric):
    """Fraction of examples whose true class is among the `k` top-scored classes.

    Takes y_pred of shape (N, C) class scores with C >= k and y of shape (N,).
    """

    accumulators = ("num_correct", "num_examples")
    higher_is_better = True

    def __init__(
        self,
        k: int = 5,
        output_transform: Callable[[Any], Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.k = k
        super().__init__(output_transform, device)

    def check_classes(self, num_classes: int) -> None:
        if num_classes < self.k:
            raise ValueError(
                f"top-{self.k} accuracy needs at least {self.k} classes, "
                f"got {num_classes}"
            )

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        if y_pred.ndim != 2 or y.ndim != 1 or len(y_pred) != len(y):
            raise ValueError(
                "expected y_pred of shape (N, C) and y of shape (N,), "
                f"got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}"
            )
        if y_pred.shape[1] < self.k:
            raise ValueError(
                f"expected y_pred with at least k={self.k} classes, "
                f"got {y_pred.shape[1]}"
            )
        top_classes = y_pred.topk(self.k, dim=1).indices  # (N, k)
        correct = (top_classes == y.unsqueeze(1)).any(dim=1)
        self.accumulate("num_correct", correct.sum())
        self.accumulate("num_examples", torch.tensor(len(y)))

    def compute(self) -> float:
        self.require_examples()
        return float(self.num_correct / self.num_examples)
