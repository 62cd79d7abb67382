"""MNIST and Fashion-MNIST, read once through torchvision and batched as tensors.

The fast path (the default) keeps each split as one normalized tensor and cuts
batches from a permutation drawn from (seed, epoch): no per-sample
PIL decoding or collate, and the batches of any epoch can be replayed exactly, which
is what makes resuming mid-epoch exact. `--loader classic` uses the usual Dataset +
transforms + DataLoader, for per-sample augmentation.
"""

import torch
from torch.utils.data import DataLoader, Sampler
from torchvision import datasets, transforms

# name -> (torchvision class, training-set mean and std of the pixel values)
DATASETS = {
    "mnist": (datasets.MNIST, 0.1307, 0.3081),
    "fashion-mnist": (datasets.FashionMNIST, 0.2860, 0.3530),
}
NUM_CLASSES = 10


class DatasetNotFound(RuntimeError):
    """The dataset files are absent and could not be downloaded."""


def load_dataset(name, root, train, transform=None):
    dataset_class = DATASETS[name][0]
    try:
        return dataset_class(root, train=train, transform=transform, download=False)
    except RuntimeError:
        pass  # not on disk yet: try to fetch it
    try:
        return dataset_class(root, train=train, transform=transform, download=True)
    except Exception as error:
        # torchvision's message has a line per mirror; the last one holds the cause.
        lines = [line for line in str(error).splitlines() if line.strip()]
        reason = lines[-1] if lines else repr(error)
        raise DatasetNotFound(
            f"{name} is not in {root}/{dataset_class.__name__}/raw (the IDX files, "
            f"e.g. train-images-idx3-ubyte) and downloading it failed: {reason}"
        ) from None


class TensorLoader:
    """Batches of (images, labels) cut from two in-memory tensors.

    With shuffle, epoch e visits the samples in the order of a permutation seeded
    by seed + e; call set_epoch(e) before iterating (the Engine does).
    """

    def __init__(self, images, labels, batch_size, shuffle=False, seed=0):
        self.images = images  # (N, 1, 28, 28) float, normalized
        self.labels = labels  # (N,) int64
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        if not self.shuffle:
            # Slices are views: evaluation copies nothing.
            images, labels = self.images, self.labels
            for start in range(0, len(labels), self.batch_size):
                end = start + self.batch_size
                yield images[start:end], labels[start:end]
            return
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.labels), generator=generator)
        order = order.to(self.labels.device)
        # index_select copies a batch in half the time of images[index] on CPUs.
        for index in order.split(self.batch_size):
            yield self.images.index_select(0, index), self.labels.index_select(0, index)


def tensor_split(name, root, train, device):
    dataset = load_dataset(name, root, train)
    _, mean, std = DATASETS[name]
    images = dataset.data.to(device).unsqueeze(1).float().div_(255).sub_(mean).div_(std)
    return images, dataset.targets.to(device)


class EpochSampler(Sampler):
    """The DataLoader path's sampler: TensorLoader's seeded per-epoch order."""

    def __init__(self, size, shuffle, seed=0):
        self.size = size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.size

    def __iter__(self):
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = range(self.size)
        return iter(order)


class ClassicLoader(DataLoader):
    """A DataLoader whose sampler follows the Engine's epochs."""

    def set_epoch(self, epoch):
        self.sampler.set_epoch(epoch)


def classic_loader(name, root, train, batch_size, seed):
    _, mean, std = DATASETS[name]
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
    )
    dataset = load_dataset(name, root, train, transform)
    return ClassicLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(len(dataset), shuffle=train, seed=seed),
    )


def get_data_loaders(
    name, root, batch_size, eval_batch_size, seed=0, device="cpu", loader="tensor"
):
    """Return (train_loader, test_loader); only the training set is shuffled."""
    if loader == "classic":
        return (
            classic_loader(name, root, True, batch_size, seed),
            classic_loader(name, root, False, eval_batch_size, seed),
        )
    train = TensorLoader(
        *tensor_split(name, root, True, device), batch_size, shuffle=True, seed=seed
    )
    test = TensorLoader(*tensor_split(name, root, False, device), eval_batch_size)
    return train, test
