"""Handlers: behaviour attached to the trainer's events, one concern per module."""

from .nan_guard import NonFiniteLoss, check_finite_scores, stop_on_non_finite_loss

__all__ = [
    "NonFiniteLoss",
    "check_finite_scores",
    "stop_on_non_finite_loss",
]
