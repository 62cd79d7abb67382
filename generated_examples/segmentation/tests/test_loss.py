"""Loss against small cases worked out by hand."""

import pytest
import torch
import torch.nn.functional as F

from mytrainer.metrics import Loss, NotComputableError


def test_loss_is_averaged_per_example_not_per_batch(run_metric):
    log_probs = torch.tensor([[0.5, 0.5], [0.25, 0.75], [0.9, 0.1]]).log()
    y = torch.tensor([0, 1, 0])
    batches = [(log_probs[:2], y[:2]), (log_probs[2:], y[2:])]
    expected = -(torch.tensor([0.5, 0.75, 0.9]).log().mean())
    assert run_metric(Loss(F.nll_loss), batches) == pytest.approx(expected.item())


def test_loss_rejects_unreduced_losses():
    loss = Loss(lambda y_pred, y: F.nll_loss(y_pred, y, reduction="none"))
    with pytest.raises(ValueError, match="expected loss_fn to return a scalar"):
        loss.update((torch.zeros(2, 3), torch.tensor([0, 1])))


def test_loss_without_examples_cannot_be_computed():
    with pytest.raises(NotComputableError, match="must have at least one example"):
        Loss(F.nll_loss).compute()
