"""Metrics: attach one to an Engine and read it from engine.state.metrics."""

from .base import Metric, NotComputableError
from .loss import Loss
from .running_average import RunningAverage
from .segmentation import Dice, IoU, PixelAccuracy

__all__ = [
    "Dice",
    "IoU",
    "Loss",
    "Metric",
    "NotComputableError",
    "PixelAccuracy",
    "RunningAverage",
]
