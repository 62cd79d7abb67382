"""Handlers: behaviour attached to the trainer's events, one concern per module."""

from .history import History
from .nan_guard import check_finite_scores, stop_on_non_finite_loss

__all__ = [
    "History",
    "check_finite_scores",
    "stop_on_non_finite_loss",
]
