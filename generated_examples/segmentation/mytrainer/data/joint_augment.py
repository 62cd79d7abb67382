"""Images and masks batched together, and augmented together.

The training augmentation of augment.py (a random resized crop, and a flip, that
read each output pixel from the nearest pixel of the image) reads a mask's pixels
from exactly where it reads its image's: every pixel keeps a class index, none is
a blend of two, and each stays on its image's pixel.
"""

from .augment import BatchAugment, resample
from .images import normalize
from .loaders import TensorLoader


class JointAugment(BatchAugment):
    """(uint8 images (N, C, H, W), uint8 masks (N, H, W)) -> (normalized float
    images, int64 masks), both cropped and flipped alike."""

    def __call__(self, images, masks, generator):
        if self.crop or self.flip:
            rows, columns = self.source_pixels(images, generator)
            images = resample(images, rows, columns)
            masks = resample(masks[:, None], rows, columns)[:, 0]
        return normalize(images, self.mean, self.std), masks.long()


class MaskLoader(TensorLoader):
    """TensorLoader of (images, masks), whose `prepare(images, masks, generator)`
    changes both."""

    def prepared(self, images, masks, generator):
        return self.prepare(images, masks, generator)
