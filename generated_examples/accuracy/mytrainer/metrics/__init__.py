"""Metrics: attach one to an Engine and read it from engine.state.metrics."""

from .accuracy import Accuracy, CategoricalAccuracy
from .base import Metric, NotComputableError
from .running_average import RunningAverage

__all__ = [
    "Accuracy",
    "CategoricalAccuracy",
    "Metric",
    "NotComputableError",
    "RunningAverage",
]
