"""Metrics: attach one to an Engine and read it from engine.state.metrics."""

from .accuracy import Accuracy, CategoricalAccuracy
from .base import Metric, NotComputableError
from .confusion import ConfusionMatrix
from .loss import Loss
from .precision_recall import F1, Precision, Recall
from .running_average import RunningAverage
from .topk import TopKAccuracy

__all__ = [
    "F1",
    "Accuracy",
    "CategoricalAccuracy",
    "ConfusionMatrix",
    "Loss",
    "Metric",
    "NotComputableError",
    "Precision",
    "Recall",
    "RunningAverage",
    "TopKAccuracy",
]
