"""A small PyTorch training package with its own engine and metrics.

Import what you need from the package itself:

    from mytrainer import Engine, Events, create_supervised_trainer
"""

from .engine import Engine, Events, State
from .metrics import Metric, RunningAverage, Accuracy, CategoricalAccuracy, Loss
from .supervised import create_supervised_evaluator, create_supervised_trainer

__all__ = [
    "Engine",
    "Events",
    "State",
    "create_supervised_trainer",
    "create_supervised_evaluator",
    "Metric",
    "RunningAverage",
    "Accuracy",
    "CategoricalAccuracy",
    "Loss",
]
