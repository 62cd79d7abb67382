"""Handlers: behaviour attached to the trainer's events, one concern per module."""

from .nan_guard import NonFiniteLoss, stop_on_non_finite_loss

__all__ = [
    "NonFiniteLoss",
    "stop_on_non_finite_loss",
]
