"""Stop training on a non-finite loss instead of training, or saving, a broken model."""

import math

from ..errors import RunError


class NonFiniteLoss(RunError):
    """The training loss, a validation score or the weights became NaN or infinite."""


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


def check_finite_scores(record):
    """Raise NonFiniteLoss when a score of an epoch's record is NaN or infinite.

    The last step of an epoch can break the weights after its loss was read, which
    the validation scores show: checked before the record is written or saved.
    """
    for name, value in record.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise NonFiniteLoss(
                f"the validation {name} is {value} at epoch {record['epoch']}; "
                "try a lower --lr or --clip-grad-norm"
            )
