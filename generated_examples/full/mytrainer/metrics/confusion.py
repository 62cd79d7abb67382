"""ConfusionMatrix: counts of each (true class, predicted class) pair."""

from collections.abc import Callable
from typing import Any

import torch

from .base import Metric

NORMALIZATIONS = (None, "true", "pred", "all")


class ConfusionMatrix(Metric):
    """A (num_classes, num_classes) matrix: row i, column j counts true i predicted j.

    Takes y_pred of shape (N, num_classes) class scores, or (N,) predicted labels,
    and y of shape (N,) labels in [0, num_classes). `normalize` divides by the
    row sums ("true"), the column sums ("pred") or the total ("all"), as
    scikit-learn does; an empty row or column stays 0. Without it the matrix
    holds int64 counts.
    """

    accumulators = ("counts", "num_examples")

    def __init__(
        self,
        num_classes: int,
        normalize: str | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if normalize not in NORMALIZATIONS:
            raise ValueError(
                f"expected normalize in {NORMALIZATIONS}, got {normalize!r}"
            )
        self.num_classes = num_classes
        self.normalize = normalize
        super().__init__(output_transform, device)

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        predicted = self._predicted_labels(y_pred, y)
        if y.dtype.is_floating_point or predicted.dtype.is_floating_point:
            raise ValueError(
                f"expected integer labels, got y {y.dtype} and y_pred {y_pred.dtype}"
            )
        labels = torch.cat([y, predicted])
        if ((labels < 0) | (labels >= self.num_classes)).any():
            raise ValueError(
                f"expected labels in [0, {self.num_classes}), "
                f"got labels from {int(labels.min())} to {int(labels.max())}"
            )
        # Pair (i, j) gets the flat index i * C + j; counting those fills the matrix.
        pairs = y.long() * self.num_classes + predicted.long()
        counts = torch.bincount(pairs, minlength=self.num_classes**2)
        self.accumulate("counts", counts.view(self.num_classes, self.num_classes))
        self.accumulate("num_examples", torch.tensor(len(y)))

    def _predicted_labels(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.ndim == 1 and y_pred.shape == y.shape:
            return y_pred
        if y.ndim == 1 and y_pred.shape == (len(y), self.num_classes):
            return y_pred.argmax(dim=1)
        raise ValueError(
            f"expected y_pred of shape (N, {self.num_classes}) or (N,) and y of shape "
            f"(N,), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}"
        )

    def compute(self) -> torch.Tensor:
        self.require_examples()
        if self.normalize is None:
            return self.counts.long()
        if self.normalize == "true":
            totals = self.counts.sum(dim=1, keepdim=True)
        elif self.normalize == "pred":
            totals = self.counts.sum(dim=0, keepdim=True)
        else:
            totals = self.counts.sum()
        return self.counts / torch.where(totals > 0, totals, 1.0)
