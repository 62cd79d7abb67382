"""MNIST and Fashion-MNIST, read once through torchvision and batched as tensors.

The fast path (the default) keeps each split as one normalized tensor on the training
device and cuts batches from a permutation drawn from (seed, epoch): no per-sample
PIL decoding or collate, and the batches of any epoch can be replayed exactly, which
is what makes resuming mid-epoch exact. `--loader dataloader` uses the usual
Dataset + transforms + DataLoader, for per-sample augmentation.

Under torchrun both loaders give each process its share of every epoch (see
`process_share`): together the processes visit each sample once, and evaluation
sees each test sample exactly once, so metrics summed over processes are exact.
"""

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Sampler
from torchvision import datasets, transforms

from .distributed import get_rank, get_world_size


class DatasetInfo(NamedTuple):
    torchvision_class: type
    mean: float  # of the training set's pixel values, scaled to [0, 1]
    std: float


DATASETS = {
    "mnist": DatasetInfo(datasets.MNIST, 0.1307, 0.3081),
    "fashion-mnist": DatasetInfo(datasets.FashionMNIST, 0.2860, 0.3530),
}
NUM_CLASSES = 10


class DatasetNotFound(RuntimeError):
    """The dataset files are absent and could not be downloaded."""


def load_dataset(name, root, train, transform=None):
    dataset_class = DATASETS[name].torchvision_class
    try:
        return dataset_class(root, train=train, transform=transform, download=False)
    except RuntimeError:
        download(name, root)  # not on disk yet, or a file of it is cut short
    return dataset_class(root, train=train, transform=transform, download=False)


def download(name, root):
    """Fetch the dataset into `root`, which is left untouched when that fails.

    torchvision creates its folders before downloading; a failed download would
    leave an empty `<root>/MNIST/raw` behind, so it runs in a temporary folder and
    only a complete dataset goes into `root`, a file at a time: each is copied under
    a temporary name and renamed, so that no reader (another process under
    torchrun, a later run) ever sees a file cut short. Files already there, whole
    or not, are replaced.
    """
    dataset_class = DATASETS[name].torchvision_class
    raw = Path(root) / dataset_class.__name__ / "raw"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            dataset_class(scratch, train=True, download=True)
        except Exception as error:
            # torchvision's message has a line per mirror; the last holds the cause.
            lines = [line for line in str(error).splitlines() if line.strip()]
            reason = lines[-1] if lines else repr(error)
            raise DatasetNotFound(
                f"{name} is not in {raw} (as readable IDX files, e.g. "
                f"train-images-idx3-ubyte) and downloading it failed: {reason}; "
                "copy the files there, or retry online"
            ) from None
        raw.mkdir(parents=True, exist_ok=True)
        for path in (Path(scratch) / dataset_class.__name__ / "raw").iterdir():
            copying = raw / f"{path.name}.partial"
            shutil.copyfile(path, copying)
            os.replace(copying, raw / path.name)


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


class TensorLoader:
    """Batches of (images, labels) cut from two in-memory tensors.

    With shuffle, epoch e visits the samples in the order of a permutation seeded
    by seed + e; call set_epoch(e) before iterating (the Engine does).
    Process `rank` of `world_size` takes its `process_share` of that order.
    """

    def __init__(
        self, images, labels, batch_size, shuffle=False, seed=0, rank=0, world_size=1
    ):
        self.images = images  # (N, 1, 28, 28) float, normalized
        self.labels = labels  # (N,) int64
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.rank = rank
        self.world_size = world_size

    def share(self, order):
        return process_share(order, self.rank, self.world_size, drop_last=self.shuffle)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return math.ceil(len(self.share(range(len(self.labels)))) / self.batch_size)

    def __iter__(self):
        if not self.shuffle:
            # Slices are views: evaluation copies nothing.
            images, labels = self.share(self.images), self.share(self.labels)
            for start in range(0, len(labels), self.batch_size):
                end = start + self.batch_size
                yield images[start:end], labels[start:end]
            return
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.labels), generator=generator)
        order = self.share(order).to(self.labels.device)
        # index_select copies a batch in half the time of images[index] on CPUs.
        for index in order.split(self.batch_size):
            yield self.images.index_select(0, index), self.labels.index_select(0, index)


def load_as_tensors(name, root, train, device):
    """One split as (images, labels): (N, 1, 28, 28) normalized floats and (N,) ints."""
    dataset = load_dataset(name, root, train)
    mean, std = DATASETS[name].mean, DATASETS[name].std
    images = dataset.data.to(device).unsqueeze(1).float().div_(255).sub_(mean).div_(std)
    return images, dataset.targets.to(device)


class EpochSampler(Sampler):
    """The DataLoader path's sampler: TensorLoader's seeded per-epoch order."""

    def __init__(self, size, shuffle, seed=0, rank=0, world_size=1):
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.rank = rank
        self.world_size = world_size

    def share(self, order):
        return process_share(order, self.rank, self.world_size, drop_last=self.shuffle)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.share(range(self.size)))

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = range(self.size)
        return iter(self.share(order))


class EpochDataLoader(DataLoader):
    """A DataLoader whose sampler follows the Engine's epochs."""

    def set_epoch(self, epoch):
        self.sampler.set_epoch(epoch)


def make_dataloader(name, root, train, batch_size, seed, pin_memory):
    mean, std = DATASETS[name].mean, DATASETS[name].std
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
    )
    dataset = load_dataset(name, root, train, transform)
    return EpochDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(
            len(dataset),
            shuffle=train,
            seed=seed,
            rank=get_rank(),
            world_size=get_world_size(),
        ),
        pin_memory=pin_memory,
    )


def get_data_loaders(
    name, root, batch_size, eval_batch_size, seed=0, device="cpu", loader="tensor"
):
    """Return (train_loader, test_loader); only the training set is shuffled.

    batch_size is the global batch: each process takes an equal part of it, so the
    training recipe does not change with the number of processes. eval_batch_size
    is per process.
    """
    if batch_size % get_world_size():
        raise ValueError(
            f"expected a batch size divisible by the {get_world_size()} processes, "
            f"got {batch_size}"
        )
    batch_size //= get_world_size()
    if loader == "dataloader":
        pin_memory = torch.device(device).type == "cuda"
        return (
            make_dataloader(name, root, True, batch_size, seed, pin_memory),
            make_dataloader(name, root, False, eval_batch_size, seed, pin_memory),
        )
    share = {"rank": get_rank(), "world_size": get_world_size()}
    train = TensorLoader(
        *load_as_tensors(name, root, True, device),
        batch_size,
        shuffle=True,
        seed=seed,
        **share,
    )
    test = TensorLoader(
        *load_as_tensors(name, root, False, device), eval_batch_size, **share
    )
    return train, test
