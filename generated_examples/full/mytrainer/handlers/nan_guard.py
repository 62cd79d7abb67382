"""Stop training on a non-finite loss instead of training a broken model."""

import math


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


def stop_on_non_finite_loss(engine):
    """Raise NonFiniteLoss when the last batch's loss is NaN or infinite.

    Attach to Events.ITERATION_COMPLETED. Raising (rather than terminate()) ends
    the run before later handlers such as a checkpoint can save the bad weights.
    Reading the loss waits for the device once per iteration.
    """
    loss = float(engine.state.output)
    if not math.isfinite(loss):
        raise NonFiniteLoss(
            f"the training loss is {loss} at epoch {engine.state.epoch}, iteration "
            f"{engine.state.iteration}; try a lower --lr or --clip-grad-norm"
        )
