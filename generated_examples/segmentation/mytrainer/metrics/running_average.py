"""RunningAverage: a smoothed view of a noisy per-iteration value such as the loss."""

from collections.abc import Callable
from typing import Any

import torch

from ..engine import Events
from .base import Metric, NotComputableError


class RunningAverage(Metric):
    """Exponential moving average: average = alpha * average + (1 - alpha) * value.

    The value is `output_transform(engine.state.output)`, by default the trainer's
    0-dim loss tensor. The average stays a tensor on the value's device (or on
    `device` if given) so that no iteration waits for the GPU; call float() on
    it when printing.
    """

    def __init__(
        self,
        alpha: float = 0.98,
        output_transform: Callable[[Any], Any] | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"expected alpha in (0, 1), got {alpha}")
        self.alpha = alpha
        super().__init__(output_transform)
        self.device = None if device is None else torch.device(device)

    def reset(self) -> None:
        # A moving average is not a sum, so it keeps no `accumulators`.
        self.average: torch.Tensor | None = None

    def update(self, output: Any) -> None:
        value = torch.as_tensor(output).detach()
        if value.ndim != 0:
            raise ValueError(
                f"expected a scalar value, got a tensor of shape {tuple(value.shape)}"
            )
        if self.device is not None:
            value = value.to(self.device)
        if self.average is None:
            self.average = value  # start from the first value, not from 0
        else:
            self.average = self.alpha * self.average + (1 - self.alpha) * value

    def compute(self) -> torch.Tensor:
        if self.average is None:
            raise NotComputableError(
                "RunningAverage must have at least one example "
                "before it can be computed"
            )
        return self.average

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average = state["average"]

    def attach(self, engine, name: str) -> None:
        """Update engine.state.metrics[name] after every iteration of the run.

        The average carries across epochs so that a curve of it has no jumps, and
        across a resumed run when a checkpoint holds its state_dict().
        """
        engine.add_event_handler(Events.STARTED, self._started_run)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._completed, name)

    def _started_run(self, engine) -> None:
        if engine.state.iteration == 0:  # a resumed run keeps the loaded average
            self.reset()
