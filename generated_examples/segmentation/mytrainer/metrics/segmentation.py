"""PixelAccuracy, IoU, Dice: segmentation scores over every labelled pixel.

Each metric takes the evaluator's `(y_pred, y)`: y of shape (N, H, W) holding a
class index per pixel, and y_pred of shape (N, C, H, W) class scores (such as
log-probabilities) or (N, H, W) predicted class indices. Pixels whose true class
is IGNORE_INDEX (unlabelled, or a border nobody could label) count nowhere.

The state is a count of pixels, so the sums of several processes add up exactly
to the sums over all of the data.
"""

from collections.abc import Callable
from typing import Any

import torch

from .base import Metric

# The mask value of pixels without a class, as in Pascal VOC.
IGNORE_INDEX = 255

AVERAGES = (None, "macro")


def labelled_pixels(
    y_pred: torch.Tensor, y: torch.Tensor, num_classes: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted and true class of every pixel not ignored, as two 1-D tensors.

    `num_classes` may be None where y_pred holds scores: their second dimension
    tells the number of classes.
    """
    if y.dtype.is_floating_point:
        raise ValueError(f"expected integer class indices in y, got {y.dtype}")
    if y_pred.shape == y.shape:
        if y_pred.dtype.is_floating_point:
            raise ValueError(
                "expected y_pred of class scores of shape (N, C, ...) or integer "
                f"class indices of y's shape, got {y_pred.dtype} of y's shape"
            )
        predicted = y_pred
    elif (
        y.ndim >= 1
        and y_pred.ndim == y.ndim + 1
        and y_pred.shape[:1] + y_pred.shape[2:] == y.shape
        and num_classes in (None, y_pred.shape[1])
    ):
        num_classes = y_pred.shape[1]
        # max's indices are argmax's, in a tenth of its time on a CPU over the
        # class dimension of (N, C, H, W) scores.
        predicted = y_pred.max(dim=1).indices
    else:
        classes = "C" if num_classes is None else num_classes
        raise ValueError(
            f"expected y_pred of shape (N, {classes}, H, W) or (N, H, W) and y of "
            f"shape (N, H, W), got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}"
        )
    if num_classes is None:
        raise ValueError(
            "expected num_classes to read predicted class indices; "
            "give it to the metric, or pass class scores"
        )
    kept = y != IGNORE_INDEX
    target, predicted = y[kept].long(), predicted[kept].long()
    for name, labels in (("y", target), ("y_pred", predicted)):
        outside = labels[(labels < 0) | (labels >= num_classes)]
        if len(outside):
            ignored = f" or {IGNORE_INDEX} (ignored)" if name == "y" else ""
            raise ValueError(
                f"expected class indices in [0, {num_classes}){ignored} in {name}, "
                f"got {int(outside[0])}"
            )
    return predicted, target


class PixelAccuracy(Metric):
    """The fraction of labelled pixels whose class is predicted right.

    `num_classes` is needed only to take predicted class indices, which do not
    say how many classes there are.
    """

    accumulators = ("num_correct", "num_examples")
    higher_is_better = True

    def __init__(
        self,
        num_classes: int | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.num_classes = num_classes
        super().__init__(output_transform, device)

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        predicted, target = labelled_pixels(*output, self.num_classes)
        self.accumulate("num_correct", (predicted == target).sum())
        # The examples are pixels: a batch of ignored pixels only adds nothing.
        self.accumulate("num_examples", torch.tensor(len(target)))

    def compute(self) -> float:
        self.require_examples()
        return float(self.num_correct / self.num_examples)


class _OverlapScore(Metric):
    """Counts each (true class, predicted class) pair of pixels; subclasses score
    each class from its overlap (true positives) and its true and predicted pixels.

    `average` picks what `compute` returns:
        None     a float64 tensor of per-class scores; a class neither in the
                 truth nor predicted scores 0
        "macro"  the mean of the scores of the classes in the truth or predicted
    (both as scikit-learn's defaults have it).
    """

    accumulators = ("counts", "num_examples")
    higher_is_better = True

    def __init__(
        self,
        num_classes: int,
        average: str | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if average not in AVERAGES:
            raise ValueError(f"expected average in {AVERAGES}, got {average!r}")
        self.num_classes = num_classes
        self.average = average
        if average is None:
            self.higher_is_better = None  # per-class scores: no one number
        super().__init__(output_transform, device)

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        predicted, target = labelled_pixels(*output, self.num_classes)
        # Pair (i, j) gets the flat index i * C + j; counting those fills the matrix
        # whose row i, column j counts the pixels of class i predicted as j.
        pairs = target * self.num_classes + predicted
        counts = torch.bincount(pairs, minlength=self.num_classes**2)
        self.accumulate("counts", counts.view(self.num_classes, self.num_classes))
        self.accumulate("num_examples", torch.tensor(len(target)))

    def compute(self) -> float | torch.Tensor:
        self.require_examples()
        overlap = self.counts.diagonal()
        actual, predicted = self.counts.sum(dim=1), self.counts.sum(dim=0)
        present = actual + predicted > 0
        scores = self.score(overlap, actual, predicted)
        scores = torch.where(present, scores, 0.0)
        if self.average is None:
            return scores
        return float(scores[present].mean())

    def score(
        self, overlap: torch.Tensor, actual: torch.Tensor, predicted: torch.Tensor
    ) -> torch.Tensor:
        raise NotImplementedError


class IoU(_OverlapScore):
    """Intersection over union (Jaccard index) per class: of the pixels that are
    the class or predicted as it, the fraction that are both. With
    average="macro" it is the mean IoU."""

    def score(self, overlap, actual, predicted):
        union = actual + predicted - overlap
        return overlap / union.clamp(min=1)


class Dice(_OverlapScore):
    """The Dice coefficient (F1 score) per class: twice the overlap over the
    class's true and predicted pixels together."""

    def score(self, overlap, actual, predicted):
        return 2 * overlap / (actual + predicted).clamp(min=1)
