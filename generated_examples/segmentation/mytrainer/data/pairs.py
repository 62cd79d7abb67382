"""Images and their masks: DIR/train/images/NAME.* beside DIR/train/masks/NAME.png,
and DIR/val/ likewise.

A mask is a single-channel PNG of the image's size whose pixels are class indices;
IGNORE_INDEX (255) marks pixels of no known class, which count in no loss and no
metric. A palette PNG, as Pascal VOC's masks are, is read by its indices, not its
colours. DIR/classes.txt names the classes, one a line in index order; without it
they are the indices the masks hold.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .images import DECODE_ERRORS, ImageError, describe, images_under, open_image
from .loaders import DataError

IGNORE_INDEX = 255
MASK_MODES = ("L", "P", "1", "I", "I;16")  # single-channel: the value is the index


class Pairs(NamedTuple):
    """The images of a split and their masks, in the same order."""

    images: list
    masks: list


class Dataset(NamedTuple):
    train: Pairs
    val: Pairs
    classes: list | None  # None: the indices the masks hold


def find_dataset(root, val_split, seed):
    """The training and validation pairs under `root`, and the class names of
    root/classes.txt; without root/val, `val_split` of the training pairs, drawn
    by `seed`, validate."""
    root = Path(root)
    if not (root / "train").is_dir():
        raise DataError(
            f"{root}: no train folder; expected {root / 'train' / 'images'} and "
            f"{root / 'train' / 'masks'}"
        )
    train = find_pairs(root / "train")
    if (root / "val").is_dir():
        val = find_pairs(root / "val")
    else:
        train, val = hold_out(train, val_split, seed)
    return Dataset(train, val, read_classes(root / "classes.txt"))


def find_pairs(folder):
    """Each image under folder/images and its mask, folder/masks/<same path>.png;
    an image without a mask, or a mask without an image, is an error naming it."""
    images_folder, masks_folder = folder / "images", folder / "masks"
    for needed in (images_folder, masks_folder):
        if not needed.is_dir():
            raise DataError(f"{needed}: no such folder, beside {folder.name}/")
    images = {}
    for path in images_under(images_folder):
        stem = path.relative_to(images_folder).with_suffix("")
        if stem in images:
            raise DataError(f"{path}: a second image named {stem} (and {images[stem]})")
        images[stem] = path
    masks = {
        path.relative_to(masks_folder).with_suffix(""): path
        for path in images_under(masks_folder)
        if path.suffix.lower() == ".png"  # lossless: a JPEG would blur the indices
    }
    for stem, path in images.items():
        if stem not in masks:
            raise DataError(
                f"{path}: no mask; expected {masks_folder / stem.with_suffix('.png')}"
            )
    for stem, path in masks.items():
        if stem not in images:
            raise DataError(f"{path}: no image of this name in {images_folder}")
    if not images:
        raise DataError(f"{images_folder}: no images")
    stems = sorted(images)
    return Pairs([images[s] for s in stems], [masks[s] for s in stems])


def hold_out(pairs, share, seed):
    """(train, val): `share` of the pairs, drawn by `seed`, validate."""
    count = len(pairs.images)
    held = max(1, round(count * share))
    if held >= count:
        raise DataError(
            f"{count} training images: too few to hold out a validation share; "
            "add a val folder"
        )
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    val = sorted(order[:held].tolist())
    train = sorted(order[held:].tolist())

    def take(indices):
        images = [pairs.images[i] for i in indices]
        return Pairs(images, [pairs.masks[i] for i in indices])

    return take(train), take(val)


def read_classes(path):
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or "" in names:
        raise DataError(f"{path}: expected one class name a line, none empty")
    if len(names) > IGNORE_INDEX:
        raise DataError(f"{path}: {len(names)} classes; a mask holds at most 255")
    return names


def read_mask(path):
    """The mask at `path` as an (H, W) uint8 array of class indices: ImageError if
    it cannot be read (a broken file is skipped), DataError if it is no mask (masks
    drawn in colours would all be)."""
    try:
        with Image.open(path) as image:
            image.load()
            mode, values = image.mode, np.array(image)
    except UnidentifiedImageError as error:
        raise ImageError(f"{path}: not an image Pillow can read") from error
    except DECODE_ERRORS as error:
        raise ImageError(f"{path}: {describe(error)}") from error
    if mode not in MASK_MODES:
        raise DataError(
            f"{path}: an {mode} image; a mask is single-channel, its values the "
            "class indices"
        )
    if values.max(initial=0) > IGNORE_INDEX:
        raise DataError(f"{path}: holds {values.max()}; class indices go up to 254")
    return values.astype(np.uint8)


def read_pair(image_path, mask_path, channels, size):
    """(image, mask): the image as a (channels, size, size) uint8 tensor and its
    mask as (size, size), both resized whole (nearest-neighbour for the mask)."""
    image = open_image(image_path, channels)
    mask = read_mask(mask_path)
    if mask.shape != (image.height, image.width):
        raise DataError(
            f"{mask_path}: {mask.shape[1]}x{mask.shape[0]} pixels, its image "
            f"{image.width}x{image.height}; a mask has its image's size"
        )
    image = image.resize((size, size), Image.Resampling.BILINEAR)
    mask = Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST)
    pixels = torch.from_numpy(np.array(image)).reshape(size, size, channels)
    return pixels.permute(2, 0, 1).contiguous(), torch.from_numpy(np.array(mask))
