"""Turn one batch of classification output into predicted and true labels.

Three kinds of input are accepted:
    binary      y_pred and y of shape (N,) or (N, 1); y in {0, 1}; y_pred holds
                0/1 labels or probabilities in [0, 1] (0.5 or more means 1)
    multiclass  y_pred of shape (N, C) with C >= 2 class scores; y of shape (N,)
                holding integer labels in [0, C)
    multilabel  (is_multilabel=True) y_pred and y of shape (N, C); y in {0, 1};
                y_pred holds 0/1 labels or probabilities in [0, 1]
"""

import torch


def to_labels(
    y_pred: torch.Tensor, y: torch.Tensor, is_multilabel: bool
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Return (predicted, target, num_classes), both labels as int64 tensors.

    Binary and multiclass labels have shape (N,) (binary counts as two classes);
    multilabel labels keep their shape (N, C) with one 0/1 column per class.
    """
    if is_multilabel:
        if y_pred.ndim != 2 or y_pred.shape != y.shape:
            raise ValueError(
                "expected y_pred and y of the same shape (N, C) for multilabel input, "
                f"got y_pred {tuple(y_pred.shape)} and y {tuple(y.shape)}"
            )
        return _threshold(y_pred), _zero_one(y), y.shape[1]

    if y_pred.shape == y.shape and (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
        return _threshold(y_pred).flatten(), _zero_one(y).flatten(), 2

    if y_pred.ndim == 2 and y.ndim == 1 and len(y_pred) == len(y):
        num_classes = y_pred.shape[1]
        if num_classes < 2:
            raise ValueError(
                "expected y_pred with at least 2 class-score columns, got 1; "
                "give binary y_pred the same shape as y"
            )
        if y.dtype.is_floating_point or y.dtype == torch.bool:
            raise ValueError(f"expected integer class labels in y, got {y.dtype}")
        if ((y < 0) | (y >= num_classes)).any():
            raise ValueError(
                f"expected class labels in [0, {num_classes}), "
                f"got labels from {int(y.min())} to {int(y.max())}"
            )
        return y_pred.argmax(dim=1), y.long(), num_classes

    raise ValueError(
        "expected y_pred of shape (N,) or (N, 1) like y for binary input, or (N, C) "
        f"with y of shape (N,) for multiclass input, got y_pred {tuple(y_pred.shape)} "
        f"and y {tuple(y.shape)}"
    )


def _threshold(y_pred: torch.Tensor) -> torch.Tensor:
    if ((y_pred < 0) | (y_pred > 1)).any():
        raise ValueError(
            "expected y_pred of 0/1 labels or probabilities in [0, 1], got values "
            "outside [0, 1] (apply torch.sigmoid to logits first)"
        )
    return (y_pred >= 0.5).long()


def _zero_one(y: torch.Tensor) -> torch.Tensor:
    if ((y != 0) & (y != 1)).any():
        raise ValueError("expected y of 0/1 labels, got other values")
    return y.long()
