"""Training augmentation on whole batches, on the training device.

A random resized crop and a horizontal flip per image, as torchvision's
RandomResizedCrop and RandomHorizontalFlip do one image at a time, done for the
whole batch by one bilinear resampling (`grid_sample`): each image's crop and flip
only scale and shift its pixel grid. The random numbers come from the generator
the loader passes, seeded per epoch, so a resumed run draws the same crops.
"""

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

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
        images = normalize(images, self.mean, self.std)
        if not (self.crop or self.flip):
            return images
        grid = self.sampling_grid(images, generator)
        return F.grid_sample(images, grid, mode="bilinear", align_corners=False)

    def sampling_grid(self, images, generator):
        """grid_sample's grid for the batch `images`: each image's crop and flip,
        drawn from `generator`."""
        height, width = images.shape[2:]
        x, y = (
            torch.from_numpy(axis).to(images.device)
            for axis in self.sample_points(len(images), height, width, generator)
        )
        return torch.stack(torch.broadcast_tensors(x[:, None, :], y[:, :, None]), -1)

    def sample_points(self, count, height, width, generator):
        """(x, y): the (count, width) and (count, height) coordinates, in [-1, 1],
        that the columns and rows of each augmented image are read from. The few
        arithmetic steps on count numbers run in NumPy: torch's per-call cost
        would be most of the time."""
        sides, centers = self.crops(count, generator)
        x = centers[:, :1] + sides[:, :1] * pixel_centers(width)
        y = centers[:, 1:] + sides[:, 1:] * pixel_centers(height)
        return x, y

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
    """The centers of `size` pixels along an axis, in [-1, 1] coordinates, as
    grid_sample places them (align_corners=False)."""
    return (np.arange(size, dtype=np.float32) + 0.5) * (2 / size) - 1


class Normalize:
    """uint8 batches -> normalized float batches: the validation path."""

    def __init__(self, mean, std):
        self.mean = mean
        self.std = std

    def __call__(self, images, generator=None):
        return normalize(images, self.mean, self.std)
