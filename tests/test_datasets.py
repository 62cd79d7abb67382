"""The offline image folders imagefolder projects are tested and benchmarked on: the
real digits, split as `mnist_sample` splits them, saved the many ways real folders
hold images, beside the junk real folders hold; and the digit canvases with masks
that segmentation projects are tested on."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError
from torchvision.datasets import FashionMNIST

from scripts.datasets import (
    CANVAS_CLASSES,
    FASHION_CLASSES,
    FASHION_DIR,
    IGNORE_INDEX,
    RAW_NAMES,
    digit_canvases,
    digits_folder,
    fashion_folder,
    read_idx_gz,
    safe_name,
    sample_split,
)

SPLITS = {"train": "train", "val": "test"}  # folder: split of sample_split()
JUNK_NAMES = {".DS_Store", "Thumbs.db", "notes.txt", "broken.png", "truncated.png"}


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    return digits_folder(tmp_path_factory.mktemp("digits"))


def is_junk(path: Path) -> bool:
    return path.name in JUNK_NAMES or path.name.startswith("._")


def digit_files(root: Path, folder: str) -> list[Path]:
    return sorted(
        p for p in (root / folder).rglob("*") if p.is_file() and not is_junk(p)
    )


@pytest.mark.parametrize("folder", SPLITS)
def test_every_digit_of_the_split_is_a_decodable_file_in_its_class_folder(
    digits, folder
):
    images, labels = sample_split()[SPLITS[folder]]
    files = digit_files(digits, folder)

    assert sorted(int(path.stem) for path in files) == list(range(len(labels)))
    for path in files:
        index = int(path.stem)
        assert path.parent.name == str(labels[index])
        with Image.open(path) as image:
            image.load()
            if (image.mode, image.size, path.suffix) == ("L", (28, 28), ".png"):
                assert np.array_equal(np.asarray(image), images[index])


def test_the_digits_are_saved_in_the_modes_formats_and_sizes_of_real_folders(digits):
    seen = {"modes": set(), "formats": set(), "sizes": set(), "suffixes": set()}
    for path in digit_files(digits, "train") + digit_files(digits, "val"):
        with Image.open(path) as image:
            seen["modes"].add(image.mode)
            seen["formats"].add(image.format)
            seen["sizes"].add(image.size)
        seen["suffixes"].add(path.suffix)

    assert {"L", "RGB", "RGBA", "P", "I;16", "CMYK"} <= seen["modes"]
    assert {"PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"} <= seen["formats"]
    assert {(28, 28), (56, 56), (40, 28)} <= seen["sizes"]
    assert {".png", ".jpg", ".jpeg", ".PNG", ".JPG"} <= seen["suffixes"]


def test_the_training_folder_holds_the_junk_real_folders_hold(digits):
    train = digits / "train"
    hidden = [path.name for path in train.rglob(".*")]

    assert {".DS_Store", ".ipynb_checkpoints"} <= set(hidden)
    assert any(name.startswith("._") for name in hidden)
    assert (train / "notes.txt").is_file() and (train / "1" / "Thumbs.db").is_file()
    assert not any((train / "3" / "empty").iterdir())
    assert not any((train / ".ipynb_checkpoints").iterdir())
    with pytest.raises(UnidentifiedImageError):
        Image.open(train / "8" / "broken.png")
    truncated = Image.open(train / "2" / "truncated.png")
    with pytest.raises(OSError, match="truncated"):
        truncated.load()
    assert not [path for path in (digits / "val").rglob("*") if is_junk(path)]


@pytest.mark.parametrize("folder", SPLITS)
def test_the_csv_files_name_every_digit_with_its_label(digits, folder):
    with open(digits / f"{folder}.csv", newline="") as file:
        rows = list(csv.reader(file))

    assert rows[0] == ["path", "label"]
    named = {path: label for path, label in rows[1:]}
    assert len(named) == len(rows) - 1
    assert all((digits / path).is_file() for path in named)
    assert all(Path(path).parent.name == label for path, label in named.items())
    files = {
        path.relative_to(digits).as_posix() for path in digit_files(digits, folder)
    }
    # A row naming a corrupt file is realistic: the loader has to report it.
    corrupt = {"train/8/broken.png"} if folder == "train" else set()
    assert set(named) == files | corrupt


def test_a_second_call_rewrites_nothing(digits):
    def modified(root):
        return {path: path.stat().st_mtime_ns for path in root.rglob("*")}

    before = modified(digits)
    assert digits_folder(digits) == digits
    assert modified(digits) == before


def test_the_fashion_class_names_are_torchvisions():
    assert list(FASHION_CLASSES) == FashionMNIST.classes
    assert safe_name("T-shirt/top") == "T-shirt_top"


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason=f"{FASHION_DIR} is absent")
def test_the_fashion_folder_holds_the_idx_images_under_their_class_names(tmp_path):
    root = fashion_folder(tmp_path, limit=20)
    images = read_idx_gz(FASHION_DIR / f"{RAW_NAMES['test'][0]}.gz", 16)
    labels = read_idx_gz(FASHION_DIR / f"{RAW_NAMES['test'][1]}.gz", 8)

    assert {path.name for path in (root / "train").iterdir()} <= set(
        map(safe_name, FASHION_CLASSES)
    )
    assert len(list(root.glob("*/*/*.png"))) == 40
    first = root / "val" / safe_name(FASHION_CLASSES[labels[0]]) / "00000.png"
    assert np.array_equal(np.asarray(Image.open(first)), images[:784].reshape(28, 28))
    # Another limit replaces the folder rather than adding to it.
    fashion_folder(tmp_path, limit=5)
    assert len(list(root.glob("*/*/*.png"))) == 10


# -- segmentation canvases ------------------------------------------------------

CANVAS_SIZE = 48
CANVAS_COUNTS = {"train": 24, "val": 6}


@pytest.fixture(scope="module")
def canvases(tmp_path_factory) -> Path:
    return digit_canvases(
        tmp_path_factory.mktemp("canvases"), *CANVAS_COUNTS.values(), CANVAS_SIZE
    )


def mode_of(path: Path) -> str:
    with Image.open(path) as image:
        return image.mode


def pixels_of(path: Path, mode: str | None = None) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert(mode) if mode else image)


def canvas_pairs(root: Path, folder: str) -> list[tuple[Path, Path]]:
    """(image, mask) of each canvas of a split, the stray file left out."""
    images = sorted((root / folder / "images").glob("[0-9]*"))
    return [(image, root / folder / "masks" / f"{image.stem}.png") for image in images]


def test_canvases_are_images_and_masks_of_the_same_stems_and_sizes(canvases):
    assert (canvases / "classes.txt").read_text().splitlines() == list(CANVAS_CLASSES)
    assert CANVAS_CLASSES[:2] == ("background", "0") and len(CANVAS_CLASSES) == 11
    for folder, count in CANVAS_COUNTS.items():
        pairs = canvas_pairs(canvases, folder)
        masks = sorted((canvases / folder / "masks").iterdir())
        assert len(pairs) == count and [mask for _, mask in pairs] == masks
        for image_path, mask_path in pairs:
            with Image.open(image_path) as image, Image.open(mask_path) as mask:
                assert image.size == mask.size == (CANVAS_SIZE, CANVAS_SIZE)
                labels = np.asarray(mask)
            # A digit's class on its strokes, background, antialiased edges ignored.
            assert set(np.unique(labels)) <= {*range(11), IGNORE_INDEX}
            assert (labels == 0).any() and ((labels > 0) & (labels <= 10)).any()
    stray = set((canvases / "train" / "images").iterdir()) - {
        image for image, _ in canvas_pairs(canvases, "train")
    }
    assert [path.name for path in stray] == ["Thumbs.db"]


def test_canvas_masks_mark_the_pixels_drawn_in_the_digit_colours(canvases):
    # Each canvas has one background colour: the pixels a mask calls background
    # must sit close to it, the digit pixels stand out from it.
    for image_path, mask_path in canvas_pairs(canvases, "train"):
        if image_path.suffix != ".png":
            continue
        pixels = pixels_of(image_path, "L").astype(np.float64)
        labels = pixels_of(mask_path)
        background = np.median(pixels[labels == 0])
        digits = (labels > 0) & (labels <= 10)
        assert np.abs(pixels[labels == 0] - background).mean() < 20
        assert np.abs(pixels[digits] - background).mean() > 50


def test_canvases_hold_the_mess_of_real_folders(canvases):
    pairs = canvas_pairs(canvases, "train") + canvas_pairs(canvases, "val")
    image_kinds = {(path.suffix, mode_of(path)) for path, _ in pairs}
    assert {(".png", "RGB"), (".jpg", "RGB"), (".png", "L"), (".png", "RGBA")} <= (
        image_kinds
    )
    palette = [mask for _, mask in pairs if mode_of(mask) == "P"]
    assert len(palette) == len(CANVAS_COUNTS)  # one a split
    indices = pixels_of(palette[0])
    # Its values are the classes; its colours are not (read as gray, they differ).
    assert set(np.unique(indices)) <= {*range(11), IGNORE_INDEX}
    assert not np.array_equal(pixels_of(palette[0], "L"), indices)
    windows = [
        np.lib.stride_tricks.sliding_window_view(pixels_of(mask), (8, 8))
        for _, mask in pairs
    ]
    unlabelled = [(window == IGNORE_INDEX).all(axis=(2, 3)).any() for window in windows]
    assert sum(unlabelled) == len(CANVAS_COUNTS)  # a region nobody labelled, a split


def test_canvases_are_the_same_from_the_same_seed_and_written_once(canvases, tmp_path):
    def contents(root):
        return {
            path.relative_to(root): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    again = digit_canvases(tmp_path / "again", *CANVAS_COUNTS.values(), CANVAS_SIZE)
    assert contents(again) == contents(canvases)
    other = digit_canvases(tmp_path / "other", *CANVAS_COUNTS.values(), CANVAS_SIZE, 1)
    assert contents(other) != contents(canvases)
    modified = {path: path.stat().st_mtime_ns for path in canvases.rglob("*")}
    digit_canvases(canvases, *CANVAS_COUNTS.values(), CANVAS_SIZE)
    assert {path: path.stat().st_mtime_ns for path in canvases.rglob("*")} == modified
