"""Which images to train and validate on, and their classes: from class folders
(DIR/train/<class>/..., DIR/val/<class>/...) or from CSV files of path,label rows.

Everything here reads; nothing is ever written into the data folder. Every
problem that would stop training is a DataError of one line, raised before
training starts.
"""

import csv
from pathlib import Path
from typing import NamedTuple

import torch

from .images import is_image_path, walk_files
from .loaders import DataError


class Split(NamedTuple):
    paths: list  # image files
    labels: list  # class indices, in the order of the classes


class Dataset(NamedTuple):
    classes: list  # class names, sorted
    train: Split
    val: Split


def find_dataset(data_dir, train_csv=None, val_csv=None, val_split=0.1, seed=0):
    """The classes and the training and validation images. Without a validation
    folder or CSV, a seeded, stratified `val_split` of the training images."""
    if train_csv is not None:
        named_train = read_csv(train_csv)
        named_val = read_csv(val_csv) if val_csv is not None else None
    else:
        train_dir = Path(data_dir) / "train"
        if not train_dir.is_dir() and looks_like_class_folders(data_dir):
            raise DataError(
                f"{data_dir} holds class folders itself; put them in "
                f"{train_dir}/ (and validation ones in {Path(data_dir) / 'val'}/), "
                "or pass their parent as --data-dir"
            )
        if not train_dir.is_dir():
            raise DataError(
                f"{data_dir} has no train folder: put the training images in "
                f"{train_dir}/<class>/ (and validation images in "
                f"{Path(data_dir) / 'val'}/<class>/), or pass --train-csv"
            )
        named_train = read_class_folders(train_dir)
        val_dir = Path(data_dir) / "val"
        named_val = read_class_folders(val_dir) if val_dir.is_dir() else None
    classes = sorted(named_train)
    if len(classes) < 2:
        raise DataError(f"found {len(classes)} class(es); a classifier needs two")
    if named_val is not None:
        unknown = sorted(set(named_val) - set(named_train))
        if unknown:
            raise DataError(
                f"validation class {unknown[0]!r} has no training images; the "
                f"training classes are {', '.join(classes)}"
            )
        return Dataset(
            classes, as_split(named_train, classes), as_split(named_val, classes)
        )
    return Dataset(classes, *split(as_split(named_train, classes), val_split, seed))


def looks_like_class_folders(folder):
    """Whether `folder`, which has no train/ folder, holds neither a val/ one but
    two or more folders of images: most likely the class folders themselves."""
    folder = Path(folder)
    if not folder.is_dir() or (folder / "val").is_dir():
        return False
    with_images = [
        entry
        for entry in folder.iterdir()
        if entry.is_dir() and not entry.name.startswith(".")
        if any(is_image_path(path) for path in walk_files(entry))
    ]
    return len(with_images) >= 2


def read_class_folders(folder):
    """{class name: image paths} of a folder of class folders. Hidden entries are
    passed over; a class folder without images (empty, or of other files) is an
    error, as is a folder without classes."""
    named = {}
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        files = list(walk_files(entry))
        images = [p for p in files if is_image_path(p)]
        if not images:
            held = f"{len(files)} other file(s)" if files else "nothing"
            raise DataError(
                f"class folder {entry} holds no images ({held}); add the class's "
                "images or move the folder away"
            )
        named[entry.name] = images
    if not named:
        raise DataError(f"{folder} holds no class folders with images")
    return named


def read_csv(path):
    """{label: image paths} from rows of `path,label` (a header row is optional),
    the paths relative to the CSV file's folder."""
    named = {}
    base = Path(path).parent
    with open(path, newline="", encoding="utf-8-sig") as file:
        for number, row in enumerate(csv.reader(file), start=1):
            if not row or (
                number == 1 and [c.strip() for c in row] == ["path", "label"]
            ):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise DataError(f"{path}, line {number}: expected path,label")
            image = base / row[0].strip()
            if not image.is_file():
                raise DataError(f"{path}, line {number}: no such file {image}")
            named.setdefault(row[1].strip(), []).append(image)
    if not named:
        raise DataError(f"{path} holds no path,label rows")
    return named


def as_split(named, classes):
    index = {name: i for i, name in enumerate(classes)}
    pairs = [(p, index[name]) for name in classes for p in named.get(name, [])]
    return Split([p for p, _ in pairs], [label for _, label in pairs])


def split(images, fraction, seed):
    """(train, val): a seeded `fraction` of each class's images held out, so that
    both keep the classes' proportions; a class of one image stays in training."""
    labels = torch.tensor(images.labels)
    generator = torch.Generator().manual_seed(seed)
    held_out = []
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        count = round(len(members) * fraction) if len(members) > 1 else 0
        held_out += members[:count].tolist()
    if not held_out:
        raise DataError(
            f"--val-split {fraction} holds out no image; raise it, or add a val folder"
        )
    chosen = set(held_out)
    kept = [i for i in range(len(labels)) if i not in chosen]
    held_out.sort()
    return (
        Split([images.paths[i] for i in kept], [images.labels[i] for i in kept]),
        Split(
            [images.paths[i] for i in held_out], [images.labels[i] for i in held_out]
        ),
    )
