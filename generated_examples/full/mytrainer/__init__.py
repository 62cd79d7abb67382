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
from .metrics import (
    F1,
    Accuracy,
    CategoricalAccuracy,
    ConfusionMatrix,
    Loss,
    Metric,
    Precision,
    Recall,
    RunningAverage,
    TopKAccuracy,
)

__all__ = [
    "F1",
    "Accuracy",
    "CategoricalAccuracy",
    "ConfusionMatrix",
    "Engine",
    "Events",
    "Loss",
    "Metric",
    "Precision",
    "Recall",
    "RunningAverage",
    "State",
    "TopKAccuracy",
    "create_supervised_evaluator",
    "create_supervised_trainer",
]
