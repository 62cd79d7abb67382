"""Metric: running state over one evaluation run, turned into a number at the end."""

from collections.abc import Callable
from typing import Any

import torch

from ..engine import Events
from ..engine.distributed import sum_over_processes


class NotComputableError(RuntimeError):
    """Raised when a metric is asked for its value before it has seen any example."""


class Metric:
    """Base class: subclasses define `update` and `compute`, and list their state.

    `output_transform` maps the engine's output to what `update` expects; the
    evaluator's output is `(y_pred, y)`, which every metric here takes as is.
    State lives on `device` as float64 tensors (exact for counts up to 2**53).
    """

    # Names of the tensor attributes holding this metric's running sums. `reset`
    # zeroes them, and anything that must treat the whole state alike (such as
    # summing it across processes) loops over this one list.
    accumulators: tuple[str, ...] = ()
    # Whether a higher value is better: True, False, or None for a value that is
    # not one number to rank by (a confusion matrix, per-class scores).
    higher_is_better: bool | None = None

    def __init__(
        self,
        output_transform: Callable[[Any], Any] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.output_transform = output_transform or (lambda output: output)
        self.device = torch.device(device)
        self.reset()

    def reset(self) -> None:
        # Zero-dim zeros broadcast on the first update, so per-class sums take
        # their length from the first batch.
        zero = torch.zeros((), dtype=torch.float64, device=self.device)
        for name in self.accumulators:
            setattr(self, name, zero.clone())

    def check_classes(self, num_classes: int) -> None:
        """Raise ValueError if this metric cannot be computed on `num_classes`
        classes: a run checks before it trains, not after its first epoch."""

    def update(self, output: Any) -> None:
        raise NotImplementedError

    def compute(self) -> Any:
        raise NotImplementedError

    def accumulate(self, name: str, batch_sum: torch.Tensor) -> None:
        """Add one batch's sum (a scalar or a per-class tensor) to an accumulator."""
        total = getattr(self, name)
        batch_sum = batch_sum.to(self.device, torch.float64)
        if total.ndim and total.shape != batch_sum.shape:
            raise ValueError(
                f"expected {tuple(total.shape)[0]} classes as in earlier batches, "
                f"got {tuple(batch_sum.shape)[0]}"
            )
        setattr(self, name, total + batch_sum)

    def sync(self) -> None:
        """Replace this process's sums by the sums over all processes of the run.

        Every accumulator is a sum over examples, so the processes' sums add up to
        the sums over all the data, and `compute` then gives every process the
        value one process would get from all of it. A metric whose state is not a
        sum (a maximum, say) overrides this. Call it once, after the last update;
        `attach` does.
        """
        totals = sum_over_processes([getattr(self, name) for name in self.accumulators])
        for name, total in zip(self.accumulators, totals, strict=True):
            setattr(self, name, total)

    def require_examples(self) -> None:
        # Every subclass counts its examples in `num_examples`.
        if self.num_examples == 0:
            raise NotComputableError(
                f"{type(self).__name__} must have at least one example "
                "before it can be computed"
            )

    def attach(self, engine, name: str) -> None:
        """Compute this metric over each epoch of `engine` into engine.state.metrics.

        An evaluator runs a single epoch, so `evaluator.run(loader).metrics[name]`
        covers the whole loader; on a trainer the value covers the latest epoch.
        """
        engine.add_event_handler(Events.EPOCH_STARTED, self._started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._completed, name)

    def _started(self, engine) -> None:
        self.reset()

    def _iteration_completed(self, engine) -> None:
        self.update(self.output_transform(engine.state.output))

    def _completed(self, engine, name: str) -> None:
        self.sync()
        engine.state.metrics[name] = self.compute()
