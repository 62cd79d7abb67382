"""Images and masks batched together, and augmented together.

The training augmentation of augment.py (a random resized crop, and a flip, as one
affine resampling per batch) moves a mask exactly as it moves its image: the image
is resampled bilinearly, the mask by nearest neighbour, so that every pixel keeps
a class index and none is a blend of two.
"""

import torch.nn.functional as F

from .augment import BatchAugment
from .images import normalize
from .loaders import TensorLoader


class JointAugment(BatchAugment):
    """(uint8 images (N, C, H, W), uint8 masks (N, H, W)) -> (normalized float
    images, int64 masks), both cropped and flipped alike."""

    def __call__(self, images, masks, generator):
        images = normalize(images, self.mean, self.std)
        if not (self.crop or self.flip):
            return images, masks.long()
        grid = self.sampling_grid(images, generator)
        images = F.grid_sample(images, grid, mode="bilinear", align_corners=False)
        masks = F.grid_sample(
            masks[:, None].float(), grid, mode="nearest", align_corners=False
        )
        return images, masks[:, 0].long()


class MaskLoader(TensorLoader):
    """TensorLoader of (images, masks), whose `prepare(images, masks, generator)`
    changes both."""

    def prepared(self, images, masks, generator):
        return self.prepare(images, masks, generator)
