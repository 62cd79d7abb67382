"""A small PyTorch training package with its own engine and metrics.

Import what you need from the package itself:

    from mytrainer import Engine, Events, create_supervised_trainer
"""

from .engine import (
    Engine,
    Events,
    State,
    create_supervised_evaluator,
    create_supervised_trainer,
)
from .metrics import Dice, IoU, Loss, Metric, PixelAccuracy, RunningAverage

__all__ = [
    "Dice",
    "Engine",
    "Events",
    "IoU",
    "IoU",
    "Loss",
    "Metric",
    "PixelAccuracy",
    "RunningAverage",
    "State",
    "create_supervised_evaluator",
    "create_supervised_trainer",
]
