"""Handlers: behaviour attached to the trainer's events, one concern per module."""

from .checkpoint import (
    AccumulatedGradients,
    Checkpointer,
    RandomStates,
    RunPlan,
    StopOnSignal,
)
from .early_stopping import EarlyStopping
from .history import History
from .mlflow_logger import MLflowLogger
from .nan_guard import check_finite_scores, stop_on_non_finite_loss
from .plot import plot_history
from .progress import ProgressBar
from .tensorboard_logger import TensorBoardLogger
from .wandb_logger import WandbLogger

__all__ = [
    "AccumulatedGradients",
    "Checkpointer",
    "EarlyStopping",
    "History",
    "MLflowLogger",
    "ProgressBar",
    "RandomStates",
    "RunPlan",
    "StopOnSignal",
    "TensorBoardLogger",
    "WandbLogger",
    "check_finite_scores",
    "plot_history",
    "stop_on_non_finite_loss",
]
