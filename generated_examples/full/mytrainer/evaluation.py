"""What is measured on the validation set after every epoch.

validation_metrics() is the one place to add or change a metric: each one is then
computed after every epoch, printed, written to metrics.jsonl and, when it is one
number, offered to --monitor.
"""

import torch

from .metrics import (
    F1,
    Accuracy,
    ConfusionMatrix,
    Loss,
    Precision,
    Recall,
    TopKAccuracy,
)
from .model.loss import count_targets


def validation_metrics(num_classes, loss_fn):
    """A fresh set of the evaluator's metrics, by name; loss_fn is the training
    loss, so that the validation loss is the same function."""
    return {
        "accuracy": Accuracy(),
        "nll": Loss(loss_fn, batch_size=count_targets),
        "precision": Precision(average="macro"),
        "recall": Recall(average="macro"),
        "f1": F1(average="macro"),
        "topk": TopKAccuracy(k=5),
        "confusion": ConfusionMatrix(num_classes),
    }


def monitored_scores(num_classes, loss_fn):
    """The scores --monitor may watch, each with the direction that is better:
    every metric that is one number, then the training loss."""
    scores = {
        name: "max" if metric.higher_is_better else "min"
        for name, metric in validation_metrics(num_classes, loss_fn).items()
        if metric.higher_is_better is not None
    }
    return {**scores, "train_loss": "min"}


def by_class(value, classes):
    """A per-class score (one value per class) or a confusion matrix (one row per
    class) keyed by class name, so that the history reads without the class list;
    anything else as it is."""
    if isinstance(value, torch.Tensor) and value.dim() > 0:
        value = value.tolist()
    if isinstance(value, list) and len(value) == len(classes):
        return {c: by_class(v, classes) for c, v in zip(classes, value, strict=True)}
    return value
