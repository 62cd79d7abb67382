"""Training augmentation on whole batches, on the training device.

A random resized crop and a horizontal flip per image, as torchvision's
RandomResizedCrop and RandomHorizontalFlip do one image at a time, done for the
whole batch at once. A crop and a flip only choose which of an image's rows and
columns make up the output, so each output pixel is read from the image pixel
nearest to where it falls (see `resample`): one copy of whole rows, then one
pick of columns. The random numbers come from the generator the loader passes,
seeded per epoch, so a resumed run draws the same crops.
"""

import functools
import math

import numpy as np
import torch

from .images import normalize

AUGMENTATIONS = ("crop", "crop-flip", "none")


class BatchAugment:
    """uint8 batches (N, C, H, W) -> augmented, normalized float batches.

    scale bounds the area of each crop as a fraction of the image's, and ratio its
    aspect; both are milder than torchvision's ImageNet defaults (0.08 to 1), which
    are meant for large photos and long training.
    """

    def __init__(self, mean, std, kind="crop", scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)):
        self.mean = mean
        self.std = std
        self.crop = kind in ("crop-flip", "crop")
        self.flip = kind == "crop-flip"
        self.scale = scale
        self.log_ratio = (math.log(ratio[0]), math.log(ratio[1]))

    def __call__(self, images, generator):
        if self.crop or self.flip:
            images = resample(images, *self.source_pixels(images, generator))
        return normalize(images, self.mean, self.std)

    def source_pixels(self, images, generator):
        """(rows, columns): for each image of the batch `images`, the rows and the
        columns its augmented rows and columns are read from, as (N, H) and (N, W)
        int64 arrays; each crop and flip drawn from `generator`. The few arithmetic
        steps on N numbers run in NumPy: torch's per-call cost would be most of
        the time."""
        count, _, height, width = images.shape
        sides, centers = self.crops(count, generator)
        x = centers[:, :1] + sides[:, :1] * pixel_centers(width)
        y = centers[:, 1:] + sides[:, 1:] * pixel_centers(height)
        return nearest_pixels(y, height), nearest_pixels(x, width)

    def crops(self, count, generator):
        """(sides, centers), each a (count, 2) float32 array of (x, y) in [-1, 1]
        coordinates: image i is read from the box of half-sides |sides[i]| around
        centers[i], mirrored left to right where sides[i, 0] < 0. Each box lies
        inside the image."""
        uniform = torch.rand(count, 5, generator=generator).numpy()
        sides = np.ones((count, 2), np.float32)
        centers = np.zeros((count, 2), np.float32)
        if self.crop:
            low, high = self.scale
            area = low + (high - low) * uniform[:, 0]
            low, high = self.log_ratio
            log_ratio = low + (high - low) * uniform[:, 1]
            # Side lengths as fractions of the image's, at most all of it:
            # width = sqrt(area * ratio), height = sqrt(area / ratio).
            half_log_area = 0.5 * np.log(area)
            sides[:, 0] = np.exp(half_log_area + 0.5 * log_ratio)
            sides[:, 1] = np.exp(half_log_area - 0.5 * log_ratio)
            np.minimum(sides, 1, out=sides)
            # The crop's center, anywhere that keeps it inside the image.
            centers = (1 - sides) * (2 * uniform[:, 2:4] - 1)
        if self.flip:
            sides[:, 0] = np.where(uniform[:, 4] < 0.5, -sides[:, 0], sides[:, 0])
        return sides, centers


@functools.lru_cache(maxsize=8)
def pixel_centers(size):
    """The centers of `size` pixels along an axis, in [-1, 1] coordinates."""
    return (np.arange(size, dtype=np.float32) + 0.5) * (2 / size) - 1


def nearest_pixels(points, size):
    """The indices of the pixels that hold `points`, given in [-1, 1] coordinates
    along an axis of `size` pixels. The points lie inside the image: they are the
    pixel centers of crops that do."""
    return ((points + 1) * (size / 2)).astype(np.int64)


def resample(images, rows, columns):
    """images (N, C, H, W) read at the chosen pixels: out[n, c, i, j] is
    images[n, c, rows[n, i], columns[n, j]], for (N, H') and (N, W') int64
    NumPy arrays `rows` and `columns`.

    Nearest-neighbour rather than bilinear (torchvision's default): the default
    crops enlarge by at most 1.6x, where the two train to the same accuracy, and
    blending four pixels with `grid_sample` took twice as long, most of what a
    later epoch on small images spent beyond the model's own steps.
    """
    count, channels, height, width = images.shape
    # Whole rows first, each one contiguous copy: row r of channel c of image n is
    # row (n * channels + c) * height + r of the batch seen as a stack of rows.
    first_rows = np.arange(count * channels).reshape(count, channels, 1) * height
    rows = torch.from_numpy((first_rows + rows[:, None]).ravel()).to(images.device)
    picked = images.reshape(-1, width).index_select(0, rows)
    picked = picked.view(count, -1, width)  # (N, C * H', W)
    # Then the columns, the same ones for every row of an image.
    columns = torch.from_numpy(columns).to(images.device)
    picked = picked.gather(2, columns[:, None].expand(-1, picked.shape[1], -1))
    return picked.view(count, channels, -1, columns.shape[1])


class Normalize:
    """uint8 batches -> normalized float batches: the validation path."""

    def __init__(self, mean, std):
        self.mean = mean
        self.std = std

    def __call__(self, images, generator=None):
        return normalize(images, self.mean, self.std)
