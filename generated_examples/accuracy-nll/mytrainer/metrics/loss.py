"""Loss: any loss function, averaged over examples rather than over batches."""

from collections.abc import Callable
from typing import Any

import torch

from .base import Metric


class Loss(Metric):
    """Average of `loss_fn(y_pred, y)` per example over all batches seen.

    `loss_fn` must return the mean loss of its batch (the default of every torch
    loss); it is weighted by `batch_size(y)` so that a short last batch counts for
    no more than its examples.
    """

    accumulators = ("loss_sum", "num_examples")
    higher_is_better = False

    def __init__(
        self,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        output_transform: Callable[[Any], Any] | None = None,
        batch_size: Callable[[torch.Tensor], int] = len,
        device: str | torch.device = "cpu",
    ) -> None:
        self.loss_fn = loss_fn
        self.batch_size = batch_size
        super().__init__(output_transform, device)

    def update(self, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        y_pred, y = output
        n = self.batch_size(y)
        if n == 0:
            return  # nothing in it counts (a mask of ignored pixels): its mean is nan
        loss = self.loss_fn(y_pred, y).detach()
        if loss.ndim != 0:
            raise ValueError(
                "expected loss_fn to return a scalar (its batch mean), "
                f"got a tensor of shape {tuple(loss.shape)}"
            )
        self.accumulate("loss_sum", loss * n)
        self.accumulate("num_examples", torch.tensor(n))

    def compute(self) -> float:
        self.require_examples()
        return float(self.loss_sum / self.num_examples)
