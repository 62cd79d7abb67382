"""Images read from disk every epoch, for datasets larger than the cache limit."""

import sys

import torch

from .images import ImageError, load_image


class ImageFiles(torch.utils.data.Dataset):
    """(uint8 image, label) pairs decoded from files, in a DataLoader's workers.

    An image that cannot be read is named in a warning and replaced by the next
    readable one, so that an epoch never stops halfway through.
    """

    def __init__(self, paths, labels, channels, size, resize):
        self.paths = paths
        self.labels = labels
        self.channels = channels
        self.size = size
        self.resize = resize
        self.unreadable = set()  # per worker process

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        for step in range(len(self.paths)):
            i = (index + step) % len(self.paths)
            if i in self.unreadable:
                continue
            try:
                image = load_image(self.paths[i], self.channels, self.size, self.resize)
            except ImageError as error:
                self.unreadable.add(i)
                print(
                    f"warning: skipped {error} ({len(self.unreadable)} so far)",
                    file=sys.stderr,
                )
                continue
            return image, self.labels[i]
        raise RuntimeError("no image of the dataset can be read")


class PreparedLoader:
    """A DataLoader of uint8 batches, moved to the device and prepared there
    (augmented and normalized) with a generator seeded by seed + epoch."""

    def __init__(self, loader, prepare, device, seed):
        self.loader = loader
        self.prepare = prepare
        self.device = device
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.loader.set_epoch(epoch)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        for images, labels in self.loader:
            images = images.to(self.device, non_blocking=True)
            labels = labels.to(self.device, non_blocking=True)
            yield self.prepare(images, generator), labels
