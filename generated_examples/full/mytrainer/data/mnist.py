"""MNIST and Fashion-MNIST, read once from torchvision's files and batched as tensors.

The fast path (the default) keeps each split as one normalized tensor on the training
device and cuts batches from a permutation drawn from (seed, epoch): no per-sample
PIL decoding or collate, and the batches of any epoch can be replayed exactly, which
is what makes resuming mid-epoch exact. `--loader dataloader` uses the usual
Dataset + transforms + DataLoader, for per-sample augmentation.

Under torchrun both loaders give each process its share of every epoch (see
loaders.py): together the processes visit each sample once, and evaluation sees
each test sample exactly once, so metrics summed over processes are exact.

Whatever the model, the images stay 28x28 with one channel and this dataset's
normalization; a torchvision model repeats the channel (see model/backbones.py).
"""

import math
import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import NamedTuple

import torch

from ..arguments import folder
from ..engine.distributed import get_rank, get_world_size
from .images import Preprocessing
from .loaders import Data, DataError, EpochDataLoader, EpochSampler, TensorLoader
from .sizing import fit_to_data


class DatasetInfo(NamedTuple):
    torchvision_name: str  # its Dataset class, and its folder under --data-dir
    classes: tuple
    mean: float  # of the training set's pixel values, scaled to [0, 1]
    std: float


# The class names torchvision gives, which model.pt saves for predict.
MNIST_CLASSES = (
    "0 - zero",
    "1 - one",
    "2 - two",
    "3 - three",
    "4 - four",
    "5 - five",
    "6 - six",
    "7 - seven",
    "8 - eight",
    "9 - nine",
)
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DATASETS = {
    "mnist": DatasetInfo("MNIST", MNIST_CLASSES, 0.1307, 0.3081),
    "fashion-mnist": DatasetInfo("FashionMNIST", FASHION_CLASSES, 0.2860, 0.3530),
}


class DatasetNotFound(DataError):
    """The dataset files are absent and could not be downloaded."""


def torchvision_dataset(name):
    """torchvision's Dataset class for `name`, imported only to download the files
    or for --loader dataloader: importing torchvision takes over a second, a large
    part of a short run."""
    from torchvision import datasets

    return getattr(datasets, DATASETS[name].torchvision_name)


def load_split(name, root, train):
    """One split as (images, labels): uint8 (N, 28, 28) and int64 (N,) tensors,
    downloaded first if the files are not on disk yet, or one is cut short."""
    try:
        return read_split(name, root, train)
    except (OSError, ValueError):
        download(name, root)
    return read_split(name, root, train)


def read_split(name, root, train):
    """One split from the files torchvision downloads to root/<name>/raw."""
    raw = Path(root) / DATASETS[name].torchvision_name / "raw"
    prefix = "train" if train else "t10k"
    images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
    labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte")
    if images.dim() != 3 or labels.shape != images.shape[:1]:
        raise ValueError(f"{raw}: {prefix} images and labels do not match")
    return images, labels.long()


def read_idx(path):
    """An IDX file of bytes, the format MNIST is published in, as a uint8 tensor:
    two zero bytes, 8 (unsigned bytes), the number of dimensions, then each size
    as a big-endian uint32."""
    data = path.read_bytes()
    if len(data) < 4 or data[:3] != b"\0\0\x08":
        raise ValueError(f"{path}: not an IDX file of bytes")
    header = 4 + 4 * data[3]
    shape = struct.unpack(f">{data[3]}I", data[4:header])
    if len(data) != header + math.prod(shape):
        raise ValueError(f"{path}: cut short")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=header).view(
        shape
    )


def download(name, root):
    """Fetch the dataset into `root`, which is left untouched when that fails.

    torchvision creates its folders before downloading; a failed download would
    leave an empty `<root>/MNIST/raw` behind, so it runs in a temporary folder and
    only a complete dataset goes into `root`, a file at a time: each is copied under
    a temporary name and renamed, so that no reader (another process under
    torchrun, a later run) ever sees a file cut short. Files already there, whole
    or not, are replaced.
    """
    dataset_class = torchvision_dataset(name)
    raw = Path(root) / dataset_class.__name__ / "raw"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            dataset_class(scratch, train=True, download=True)
        except Exception as error:
            # torchvision's message has a line per mirror; the last holds the cause.
            lines = [line for line in str(error).splitlines() if line.strip()]
            reason = lines[-1] if lines else repr(error)
            raise DatasetNotFound(
                f"{name} is not in {raw} (as readable IDX files, e.g. "
                f"train-images-idx3-ubyte) and downloading it failed: {reason}; "
                "copy the files there, or retry online"
            ) from None
        raw.mkdir(parents=True, exist_ok=True)
        for path in (Path(scratch) / dataset_class.__name__ / "raw").iterdir():
            copying = raw / f"{path.name}.partial"
            shutil.copyfile(path, copying)
            os.replace(copying, raw / path.name)


def as_tensors(name, split, device):
    """A split as (images, labels): (N, 1, 28, 28) normalized floats and (N,) ints."""
    images, labels = split
    mean, std = DATASETS[name].mean, DATASETS[name].std
    images = images.to(device).unsqueeze(1).float().div_(255).sub_(mean).div_(std)
    return images, labels.to(device)


def make_dataloader(name, root, train, batch_size, seed, pin_memory):
    from torchvision import transforms

    mean, std = DATASETS[name].mean, DATASETS[name].std
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((mean,), (std,))]
    )
    load_split(name, root, train)  # the files, downloaded if need be
    dataset = torchvision_dataset(name)(
        root, train=train, transform=transform, download=False
    )
    return EpochDataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSampler(
            len(dataset),
            shuffle=train,
            seed=seed,
            rank=get_rank(),
            world_size=get_world_size(),
            batch_size=batch_size,
        ),
        pin_memory=pin_memory,
    )


def get_data_loaders(
    name,
    root,
    batch_size,
    eval_batch_size,
    seed=0,
    device="cpu",
    loader="tensor",
    training_set=None,
):
    """Return (train_loader, test_loader); only the training set is shuffled.

    batch_size is the global batch: each process takes an equal part of it, so the
    training recipe does not change with the number of processes. eval_batch_size
    is per process. training_set, when given, is the training split as load_split
    read it: the tensor path does not read it again.
    """
    if batch_size % get_world_size():
        raise ValueError(
            f"expected a batch size divisible by the {get_world_size()} processes, "
            f"got {batch_size}"
        )
    batch_size //= get_world_size()
    if loader == "dataloader":
        pin_memory = torch.device(device).type == "cuda"
        return (
            make_dataloader(name, root, True, batch_size, seed, pin_memory),
            make_dataloader(name, root, False, eval_batch_size, seed, pin_memory),
        )
    share = {"rank": get_rank(), "world_size": get_world_size()}
    if training_set is None:
        training_set = load_split(name, root, train=True)
    train = TensorLoader(
        *as_tensors(name, training_set, device),
        batch_size,
        shuffle=True,
        seed=seed,
        **share,
    )
    test_set = load_split(name, root, train=False)
    test = TensorLoader(*as_tensors(name, test_set, device), eval_batch_size, **share)
    return train, test


def add_arguments(parser):
    """The flags that say what to train on."""
    parser.add_argument(
        "--data-dir", type=folder, default="data", help="dataset root folder"
    )
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default="mnist", help="what to train on"
    )
    parser.add_argument(
        "--loader",
        choices=["tensor", "dataloader"],
        default="tensor",
        help="tensor: in-memory batches (fast); dataloader: Dataset + DataLoader",
    )


def get_data(args, device, wanted):
    """The training and validation loaders, the class names and the preprocessing
    that predict repeats; `wanted`, the model's own preprocessing, does not apply."""
    # Read once: its size decides the default batch size, then its tensors are kept.
    training_set = load_split(args.dataset, args.data_dir, train=True)
    fit_to_data(args, len(training_set[0]))
    train, val = get_data_loaders(
        args.dataset,
        args.data_dir,
        args.batch_size,
        args.eval_batch_size,
        seed=args.seed,
        device=device,
        loader=args.loader,
        training_set=training_set,
    )
    info = DATASETS[args.dataset]
    preprocessing = Preprocessing(1, 28, 28, (info.mean,), (info.std,))
    return Data(train, val, list(info.classes), preprocessing)
