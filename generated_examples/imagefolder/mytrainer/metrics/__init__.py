"""Metrics: attach one to an Engine and read it from engine.state.metrics."""

from .accuracy import Accuracy, CategoricalAccuracy
from .base import Metric, NotComputableError
from .loss import Loss
from .running_average import RunningAverage

__all__ = [
    "Accuracy",
    "CategoricalAccuracy",
    "Loss",
    "Metric",
    "NotComputableError",
    "RunningAverage",
]
