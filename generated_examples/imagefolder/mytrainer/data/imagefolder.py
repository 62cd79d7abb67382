"""Your own images: class folders (DIR/train/<class>/..., DIR/val/<class>/...) or
CSV files of path,label rows, in any format, size and mode that PIL reads.

Each image is converted to the model's channels and resized to --image-size (by
default, from the data: 28-pixel digits stay 28 pixels), then center-cropped.
A dataset that fits --cache-limit is decoded once into a uint8 tensor on the
training device, cached on disk for the next run, and batched from there, with
training augmentation on whole batches (see augment.py): the fast path, and the
one where resuming mid-epoch is exact. A larger one is read by DataLoader worker
processes every epoch, and augmented the same way.
"""

import argparse
import os

import torch

from ..arguments import existing_file, fraction, non_negative_int, positive_int
from ..engine.distributed import get_rank, get_world_size, is_main_process
from .augment import AUGMENTATIONS, BatchAugment, Normalize
from .folders import find_dataset
from .image_cache import cached_images, decode_sample, prune
from .images import Preprocessing
from .loaders import Data, DataError, EpochDataLoader, EpochSampler, TensorLoader
from .sizing import fit_to_data
from .sources import ImageFiles, PreparedLoader
from .survey import channel_stats, guess_channels, guess_size, sample_paths


def gigabytes(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of GB >= 0, got {text}")
    return value


def add_arguments(parser):
    """The flags that say what to train on, and how to read it."""
    parser.add_argument(
        "--data-dir",
        default="data",
        help="folder of train/<class>/ and val/<class>/ image folders",
    )
    parser.add_argument(
        "--val-split",
        type=fraction,
        default=0.1,
        help="without a val folder or --val-csv: the share of each class's "
        "training images held out, seeded by --seed",
    )
    parser.add_argument(
        "--train-csv",
        type=existing_file,
        help="training images as path,label rows, paths relative to the file "
        "(default: the train folder)",
    )
    parser.add_argument(
        "--val-csv",
        type=existing_file,
        help="validation images as path,label rows (default: --val-split)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        help="side of the square the images are resized and cropped to (default: "
        "the pretrained weights', else the median shorter side, at most 224)",
    )
    parser.add_argument(
        "--augment",
        choices=AUGMENTATIONS,
        default="crop",
        help="training augmentation: a random resized crop, and with crop-flip a "
        "horizontal flip too (it helps photos, but mirrored digits and letters "
        "change meaning)",
    )
    parser.add_argument(
        "--cache-limit",
        type=gigabytes,
        default=round(memory_gb() / 4, 1),
        help="GB of decoded images to hold in memory (default: a quarter of this "
        "machine's); a larger dataset is read from disk every epoch",
    )
    parser.add_argument(
        "--cache-dir",
        default=default_cache_dir(),
        help="where decoded images are kept between runs, at most --cache-limit GB "
        "(the least recently used go first); deleting it is safe",
    )
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=min(4, os.cpu_count() or 1),
        help="processes that decode images",
    )


def memory_gb():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 8.0  # a guess where the system does not say


def default_cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    project = (__package__ or "images").split(".")[0]
    return os.path.join(base, project, "images")


def get_data(args, device, wanted):
    """The training and validation loaders, the class names and the preprocessing
    that predict repeats; `wanted` is what the model asks of its input."""
    if args.val_csv is not None and args.train_csv is None:
        raise DataError("--val-csv needs --train-csv")
    dataset = find_dataset(
        args.data_dir, args.train_csv, args.val_csv, args.val_split, args.seed
    )
    sample = sample_paths(dataset.train.paths, args.seed)
    channels = wanted.channels or guess_channels(sample)
    size = args.image_size or wanted.image_size or guess_size(sample)
    resize = size
    if wanted.resize_size and wanted.image_size:
        resize = round(size * wanted.resize_size / wanted.image_size)
    read = (channels, size, resize)
    count = len(dataset.train.paths) + len(dataset.val.paths)
    needed_gb = count * channels * size * size / 1e9
    limit_gb = min(args.cache_limit, device_memory_gb(device) / 4)
    say = print if is_main_process() else lambda *_: None
    validated = set(dataset.val.labels)
    unseen = [c for i, c in enumerate(dataset.classes) if i not in validated]
    if unseen:
        say(
            f"warning: no validation images of {', '.join(unseen)}; macro-averaged "
            "scores count each such class as 0"
        )
    say(
        f"data: {len(dataset.train.paths)} training and {len(dataset.val.paths)} "
        f"validation images of {len(dataset.classes)} classes, at {size}x{size} "
        f"{'grayscale' if channels == 1 else 'RGB'}"
    )
    fit_to_data(args, len(dataset.train.paths))
    if needed_gb <= limit_gb:
        say(
            f"data: decoded once into memory ({needed_gb:.2f} GB), kept for later "
            f"runs in {args.cache_dir}"
        )
        train, val, mean, std = in_memory(args, dataset, read, wanted, device)
    else:
        say(
            f"data: read by {args.workers} worker processes every epoch: "
            f"{needed_gb:.1f} GB decoded would pass --cache-limit {limit_gb:.1f}"
        )
        mean, std = wanted.mean, wanted.std
        if mean is None:
            mean, std = channel_stats(decode_sample(sample, *read))
        train, val = from_disk(args, dataset, read, mean, std, device)
    preprocessing = Preprocessing(*read, tuple(mean), tuple(std))
    return Data(train, val, dataset.classes, preprocessing)


def in_memory(args, dataset, read, wanted, device):
    """(train loader, val loader, mean, std) over images decoded once, or read from
    the cache of an earlier run, and kept on the device."""
    # Every process reads the images; the first alone names the unreadable ones.
    cache = (args.cache_dir, args.workers, not is_main_process())
    train_images, train_labels = cached_images(
        dataset.train.paths, dataset.train.labels, *read, *cache
    )
    val_images, val_labels = cached_images(
        dataset.val.paths, dataset.val.labels, *read, *cache
    )
    if is_main_process():
        prune(args.cache_dir, args.cache_limit * 1e9)
    if len(train_labels) == 0:
        raise DataError("no training image could be read")
    unread = set(range(len(dataset.classes))) - set(train_labels.tolist())
    if unread:
        names = ", ".join(dataset.classes[i] for i in sorted(unread))
        raise DataError(
            f"no training image of class {names} could be read (the warnings above "
            "name them); replace them, or move the class folder away"
        )
    mean, std = wanted.mean, wanted.std
    if mean is None:
        mean, std = channel_stats(train_images)
    share = {"rank": get_rank(), "world_size": get_world_size()}
    train = TensorLoader(
        train_images.to(device),
        train_labels.to(device),
        args.batch_size // get_world_size(),
        shuffle=True,
        seed=args.seed,
        prepare=BatchAugment(mean, std, args.augment),
        **share,
    )
    val = TensorLoader(
        val_images.to(device),
        val_labels.to(device),
        args.eval_batch_size,
        prepare=Normalize(mean, std),
        **share,
    )
    return train, val, mean, std


def from_disk(args, dataset, read, mean, std, device):
    """(train loader, val loader) that decode the images in worker processes every
    epoch, and augment and normalize each batch on the device."""
    share = {"rank": get_rank(), "world_size": get_world_size()}
    options = {
        "num_workers": args.workers,
        "pin_memory": torch.device(device).type == "cuda",
        "persistent_workers": args.workers > 0,
    }
    batch_size = args.batch_size // get_world_size()
    sampler = EpochSampler(
        len(dataset.train.paths), True, args.seed, batch_size=batch_size, **share
    )
    train = EpochDataLoader(
        ImageFiles(dataset.train.paths, dataset.train.labels, *read),
        batch_size=batch_size,
        sampler=sampler,
        **options,
    )
    val = EpochDataLoader(
        ImageFiles(dataset.val.paths, dataset.val.labels, *read),
        batch_size=args.eval_batch_size,
        sampler=EpochSampler(len(dataset.val.paths), False, **share),
        **options,
    )
    return (
        PreparedLoader(train, BatchAugment(mean, std, args.augment), device, args.seed),
        PreparedLoader(val, Normalize(mean, std), device, args.seed),
    )


def device_memory_gb(device):
    device = torch.device(device)
    if device.type != "cuda":
        return float("inf")  # the cache then lives in this machine's memory
    return torch.cuda.get_device_properties(device).total_memory / 1e9
