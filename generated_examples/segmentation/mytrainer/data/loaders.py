"""Batches in a seeded order per epoch, shared out among processes under torchrun.

TensorLoader cuts batches from tensors that are already in memory, on the training
device: no per-sample decoding or collate. EpochDataLoader is a DataLoader that
visits its dataset in the same order, for data too large to hold. Both draw the
order of epoch e from seed + e, so the batches of any epoch can be replayed
exactly, which is what makes resuming mid-epoch exact.
"""

import math
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Sampler

from ..errors import RunError


class Data(NamedTuple):
    """What a data module's get_data() gives the train script."""

    train: object  # loader of (images, labels) training batches
    val: object  # validation batches, in a fixed order
    classes: list  # class names, in the order of the labels
    preprocessing: object  # images.Preprocessing, which predict repeats


class DataError(RunError):
    """Data that cannot be trained on; the message is one line that says why."""


def process_share(order, rank, world_size, drop_last=False):
    """The part of an epoch's sample order that process `rank` of `world_size` takes.

    Process r takes every world_size-th sample from the r-th on. All processes draw
    the same order, so their shares never overlap, and batch i of all of them
    together holds the samples of batch i of a single process with a batch
    world_size times larger. `drop_last` (for training) first leaves out the last
    len(order) % world_size samples, a different few each shuffled epoch: DDP needs
    every process to take the same number of steps. Evaluation keeps them all, so
    shares may differ by one sample.
    """
    if drop_last:
        order = order[: len(order) - len(order) % world_size]
    return order[rank::world_size]


class EpochOrder:
    """The sample order of each epoch: seeded by seed + epoch when shuffled, and
    this process's share of it. Call set_epoch(e) before iterating (the Engine does).
    """

    def __init__(
        self, size, shuffle=False, seed=0, rank=0, world_size=1, batch_size=None
    ):
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.rank = rank
        self.world_size = world_size
        self.batch_size = batch_size  # this process's, when shuffled for training

    def set_epoch(self, epoch):
        self.epoch = epoch

    def share(self, order):
        share = process_share(order, self.rank, self.world_size, drop_last=self.shuffle)
        # A training batch of one sample stops BatchNorm ("Expected more than 1
        # value per channel"): a lone last sample is left out, a different one
        # each shuffled epoch, on every process alike.
        if self.shuffle and self.batch_size and len(share) % self.batch_size == 1:
            share = share[:-1]
        return share

    def generator(self):
        """The epoch's random numbers: its order, then whatever its batches draw."""
        return torch.Generator().manual_seed(self.seed + self.epoch)

    def order(self, generator):
        """This process's share of the epoch's order, as a tensor of indices."""
        if self.shuffle:
            return self.share(torch.randperm(self.size, generator=generator))
        return self.share(torch.arange(self.size))


class TensorLoader(EpochOrder):
    """Batches of (images, labels) cut from two in-memory tensors.

    `prepare(images, generator)`, when given, turns each batch of stored images
    into the model's input (for stored bytes: augment and normalize) with the
    epoch's generator, so that its random choices replay exactly too.
    """

    def __init__(
        self,
        images,
        labels,
        batch_size,
        shuffle=False,
        seed=0,
        rank=0,
        world_size=1,
        prepare=None,
    ):
        super().__init__(len(labels), shuffle, seed, rank, world_size, batch_size)
        self.images = images  # (N, C, H, W)
        self.labels = labels  # (N,) int64
        self.prepare = prepare

    def __len__(self):
        return math.ceil(len(self.share(range(self.size))) / self.batch_size)

    def __iter__(self):
        generator = self.generator()
        if not self.shuffle:
            # Slices are views: evaluation copies nothing it does not prepare.
            images, labels = self.share(self.images), self.share(self.labels)
            for start in range(0, len(labels), self.batch_size):
                end = start + self.batch_size
                yield self.prepared(images[start:end], labels[start:end], generator)
            return
        order = self.order(generator).to(self.labels.device)
        # index_select copies a batch in half the time of images[index] on CPUs.
        for index in order.split(self.batch_size):
            images = self.images.index_select(0, index)
            labels = self.labels.index_select(0, index)
            yield self.prepared(images, labels, generator)

    def prepared(self, images, labels, generator):
        """The batch as the model takes it. Labels that are images too (masks)
        change with them: a loader of those overrides this."""
        if self.prepare is not None:
            images = self.prepare(images, generator)
        return images, labels


class EpochSampler(EpochOrder, Sampler):
    """The DataLoader path's sampler: TensorLoader's seeded per-epoch order."""

    def __len__(self):
        return len(self.share(range(self.size)))

    def __iter__(self):
        return iter(self.order(self.generator()).tolist())


class EpochDataLoader(DataLoader):
    """A DataLoader whose sampler follows the Engine's epochs.

    Each epoch a DataLoader draws its workers' seed from its generator: one of its
    own, so that the global random numbers (dropout's, on resume) stay as they were.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("generator", torch.Generator())
        super().__init__(*args, **kwargs)

    def set_epoch(self, epoch):
        self.sampler.set_epoch(epoch)
