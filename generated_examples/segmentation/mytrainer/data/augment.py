"""Training augmentation on whole batches, on the training device.

A random resized crop and a horizontal flip per image, as torchvision's
RandomResizedCrop and RandomHorizontalFlip do one image at a time, done for the
whole batch by one affine resampling: each image's crop and flip are an affine map
of its pixel grid. The random numbers come from the generator the loader passes,
seeded per epoch, so a resumed run draws the same crops.
"""

import math

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
        theta = self.affine(len(images), generator).to(images.device)
        grid = sampling_grid(theta, *images.shape[2:])
        return F.grid_sample(images, grid, mode="bilinear", align_corners=False)

    def affine(self, count, generator):
        """(count, 2, 3) maps from output to input coordinates, in [-1, 1]."""
        uniform = torch.rand(count, 5, generator=generator)
        width = height = torch.ones(count)
        x = y = torch.zeros(count)
        if self.crop:
            low, high = self.scale
            area = low + (high - low) * uniform[:, 0]
            low, high = self.log_ratio
            ratio = torch.exp(low + (high - low) * uniform[:, 1])
            # Side lengths as fractions of the image's, at most all of it.
            width = torch.sqrt(area * ratio).clamp(max=1)
            height = torch.sqrt(area / ratio).clamp(max=1)
            # The crop's center, anywhere that keeps it inside the image.
            x = (1 - width) * (2 * uniform[:, 2] - 1)
            y = (1 - height) * (2 * uniform[:, 3] - 1)
        flip = torch.ones(count)
        if self.flip:
            flip = torch.where(uniform[:, 4] < 0.5, -1.0, 1.0)
        zero = torch.zeros(count)
        return torch.stack(
            [
                torch.stack([width * flip, zero, x], dim=1),
                torch.stack([zero, height, y], dim=1),
            ],
            dim=1,
        )


def sampling_grid(theta, height, width):
    """F.affine_grid(theta, ...) for maps that only scale and shift, as these do,
    built by broadcasting one row and one column: on 28-pixel images that takes a
    quarter of affine_grid's time, which is most of what augmenting costs."""
    device = theta.device
    xs = (torch.arange(width, device=device) + 0.5) * (2 / width) - 1
    ys = (torch.arange(height, device=device) + 0.5) * (2 / height) - 1
    x = theta[:, 0, 0, None] * xs + theta[:, 0, 2, None]  # (N, width)
    y = theta[:, 1, 1, None] * ys + theta[:, 1, 2, None]  # (N, height)
    return torch.stack(torch.broadcast_tensors(x[:, None, :], y[:, :, None]), dim=-1)


class Normalize:
    """uint8 batches -> normalized float batches: the validation path."""

    def __init__(self, mean, std):
        self.mean = mean
        self.std = std

    def __call__(self, images, generator=None):
        return normalize(images, self.mean, self.std)
