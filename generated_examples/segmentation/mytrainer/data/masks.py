"""Your own images and masks (see pairs.py for the layout), decoded once into
uint8 tensors on the training device and batched from there.

Each image is converted to the model's channels and resized whole to --image-size
squared, its mask alike with nearest-neighbour sampling (predict resizes the
predicted mask back to the image's own size). Training augmentation transforms an
image and its mask together, on whole batches (joint_augment.py).
"""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import torch

from ..arguments import fraction, non_negative_int, positive_int
from ..engine.distributed import get_rank, get_world_size, is_main_process
from .augment import AUGMENTATIONS
from .images import ImageError, Preprocessing
from .joint_augment import JointAugment, MaskLoader
from .loaders import Data, DataError
from .pairs import IGNORE_INDEX, find_dataset, read_pair
from .sizing import fit_to_data
from .survey import channel_stats, guess_channels, guess_size, sample_paths


def add_arguments(parser):
    """The flags that say what to train on, and how to read it."""
    parser.add_argument(
        "--data-dir",
        default="data",
        help="folder of train/images/ and train/masks/ (and val/ likewise), and "
        "optionally classes.txt",
    )
    parser.add_argument(
        "--val-split",
        type=fraction,
        default=0.1,
        help="without a val folder: the share of the training images held out, "
        "seeded by --seed",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        help="side of the square images and masks are resized to (default: the "
        "median shorter side, at most 224)",
    )
    parser.add_argument(
        "--augment",
        choices=AUGMENTATIONS,
        default="crop",
        help="training augmentation of image and mask together: a random resized "
        "crop, and with crop-flip a horizontal flip too (not for digits or text)",
    )
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=min(4, os.cpu_count() or 1),
        help="threads that decode images",
    )


def get_data(args, device, wanted):
    """The training and validation loaders, the class names and the preprocessing
    that predict repeats; `wanted` is what the model asks of its input."""
    dataset = find_dataset(args.data_dir, args.val_split, args.seed)
    sample = sample_paths(dataset.train.images, args.seed)
    channels = wanted.channels or guess_channels(sample)
    size = args.image_size or wanted.image_size or guess_size(sample)
    read = (channels, size, args.workers)
    train_images, train_masks, train_paths = read_pairs(dataset.train, *read)
    val_images, val_masks, val_paths = read_pairs(dataset.val, *read)
    classes = dataset.classes or found_classes(train_masks, val_masks)
    check_indices(train_masks, train_paths, classes)
    check_indices(val_masks, val_paths, classes)
    if is_main_process():
        print(
            f"data: {len(train_images)} training and {len(val_images)} validation "
            f"images with masks of {len(classes)} classes, at {size}x{size} "
            f"{'grayscale' if channels == 1 else 'RGB'}"
        )
    fit_to_data(args, len(train_images))
    mean, std = wanted.mean, wanted.std
    if mean is None:
        mean, std = channel_stats(train_images)
    share = {"rank": get_rank(), "world_size": get_world_size()}
    train = MaskLoader(
        train_images.to(device),
        train_masks.to(device),
        args.batch_size // get_world_size(),
        shuffle=True,
        seed=args.seed,
        prepare=JointAugment(mean, std, args.augment),
        **share,
    )
    val = MaskLoader(
        val_images.to(device),
        val_masks.to(device),
        args.eval_batch_size,
        prepare=JointAugment(mean, std, "none"),
        **share,
    )
    # The whole image is resized: no shorter side to resize first.
    preprocessing = Preprocessing(channels, size, None, tuple(mean), tuple(std))
    return Data(train, val, classes, preprocessing)


def read_pairs(pairs, channels, size, workers):
    """(images, masks, mask paths): (N, channels, size, size) and (N, size, size)
    uint8 tensors, decoded by threads (PIL releases the GIL), and the masks' files;
    a pair whose image or mask cannot be read is left out with a warning naming it.
    """

    def read(paths):
        try:
            return (*read_pair(*paths, channels, size), paths[1])
        except ImageError as error:
            if is_main_process():
                print(f"warning: skipped {error}", file=sys.stderr)
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        each = zip(pairs.images, pairs.masks, strict=True)
        pairs_read = [p for p in pool.map(read, each) if p is not None]
    if not pairs_read:
        raise DataError(f"none of the {len(pairs.images)} images could be read")
    images, masks, paths = zip(*pairs_read, strict=True)
    return torch.stack(images), torch.stack(masks), paths


def found_classes(*masks):
    """Without classes.txt: the indices up to the largest one the masks hold."""
    known = torch.cat([m[m != IGNORE_INDEX] for m in masks])
    largest = int(known.max()) if len(known) else 0
    return [str(index) for index in range(largest + 1)]


def check_indices(masks, paths, classes):
    """Fail, naming the first such mask, if a mask holds an index past the classes."""
    beyond = (masks >= len(classes)) & (masks != IGNORE_INDEX)
    if beyond.any():
        first = int(beyond.flatten(1).any(dim=1).nonzero()[0])
        value = int(masks[first][beyond[first]][0])
        raise DataError(
            f"{paths[first]}: holds class index {value}, past the {len(classes)} "
            "classes of classes.txt"
        )
