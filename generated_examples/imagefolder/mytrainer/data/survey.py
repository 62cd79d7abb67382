"""What the images say about themselves, read from a seeded sample of them: the
channels they need, the size to train at, and the normalization of their pixels."""

import statistics

import torch

from .images import ImageError, header, short_side
from .loaders import DataError

GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
SAMPLE = 256  # images read to choose the image size, channels and normalization


def sample_paths(paths, seed):
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(paths), generator=generator)[:SAMPLE]
    return [paths[i] for i in sorted(order.tolist())]


def guess_channels(paths):
    """1 when every sampled image is grayscale, else 3."""
    for path in paths:
        try:
            mode, _ = header(path)
        except ImageError:
            continue
        if mode not in GRAY_MODES:
            return 3
    return 1


def guess_size(paths):
    """The median shorter side of the sampled images, at most 224 pixels."""
    sides = []
    for path in paths:
        try:
            sides.append(short_side(path))
        except ImageError:
            continue
    if not sides:
        raise DataError("none of the sampled training images could be read")
    return max(8, min(224, int(statistics.median(sides))))


def channel_stats(images):
    """Per-channel mean and standard deviation of uint8 images, scaled to [0, 1],
    computed in chunks so that a large cache needs no float copy of itself."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for chunk in images.split(4096):
        values = chunk.to(torch.float64).div_(255).transpose(0, 1).flatten(1)
        total += values.sum(dim=1).cpu()
        squares += values.square().sum(dim=1).cpu()
    count = images.numel() / images.shape[1]
    mean = total / count
    std = (squares / count - mean.square()).clamp(min=1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
