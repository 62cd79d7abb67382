"""The loss training minimizes, on the models' per-pixel log-probabilities.

Pixels a mask marks with IGNORE_INDEX (of no known class) count in neither.
"""

import torch.nn.functional as F

from ..data import IGNORE_INDEX


def loss_fn(log_probabilities, masks):
    return F.nll_loss(log_probabilities, masks, ignore_index=IGNORE_INDEX)


def count_targets(masks):
    """How many targets loss_fn averages over in a batch: its labelled pixels."""
    return int((masks != IGNORE_INDEX).sum())
