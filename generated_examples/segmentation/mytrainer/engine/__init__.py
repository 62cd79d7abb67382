"""The engine: the loop that runs handlers on events (engine.py, events.py), the
supervised training and evaluation steps built on it (supervised.py), and the
processes torchrun starts to run it together (distributed.py) and how they share
the model (sharding.py)."""

from .engine import Engine, RemovableHandle
from .events import EventEnum, Events, EventsList, FilteredEvent, State
from .supervised import (
    create_supervised_evaluator,
    create_supervised_trainer,
    prepare_batch,
)

__all__ = [
    "Engine",
    "EventEnum",
    "Events",
    "EventsList",
    "FilteredEvent",
    "RemovableHandle",
    "State",
    "create_supervised_evaluator",
    "create_supervised_trainer",
    "prepare_batch",
]
