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
from .metrics import Accuracy, CategoricalAccuracy, Loss, Metric, RunningAverage

__all__ = [
    "Accuracy",
    "CategoricalAccuracy",
    "Engine",
    "Events",
    "Loss",
    "Metric",
    "RunningAverage",
    "State",
    "create_supervised_evaluator",
    "create_supervised_trainer",
]
