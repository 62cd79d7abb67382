"""Reading an image folder: which files are images of which class, the CSV files,
the held-out split, the batch augmentation, the replayable batches and the cache."""

import os

import pytest
import torch
from PIL import Image

from mytrainer.data.augment import BatchAugment, Normalize
from mytrainer.data.folders import (
    Split,
    find_dataset,
    read_class_folders,
    read_csv,
    split,
)
from mytrainer.data.image_cache import cache_key, cached_images, prune
from mytrainer.data.images import normalize
from mytrainer.data.loaders import DataError, TensorLoader
from mytrainer.data.survey import channel_stats

MEAN, STD = (0.5,), (0.25,)


def write_image(path, value=0, size=(6, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


def write_tree(root, names):
    """Files under root: images for image names, a few bytes for the others."""
    for name in names:
        path = root / name
        if path.suffix.lower() in (".png", ".jpg"):
            write_image(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not an image")
    return root


# ---------------------------------------------------------------- class folders


def test_class_folders_keep_images_in_any_case_and_pass_over_the_rest(tmp_path):
    write_tree(
        tmp_path,
        [
            "cat/a.png",
            "cat/b.JPG",
            "cat/nested/c.png",
            "cat/Thumbs.db",
            "cat/._a.png",  # macOS's resource fork of a.png
            "cat/.ipynb_checkpoints/d.png",
            "dog/a.png",
            ".hidden/a.png",
            "notes.txt",
        ],
    )

    found = read_class_folders(tmp_path)

    assert found == {
        "cat": [
            tmp_path / "cat/a.png",
            tmp_path / "cat/b.JPG",
            tmp_path / "cat/nested/c.png",
        ],
        "dog": [tmp_path / "dog/a.png"],
    }


def test_a_link_loop_inside_a_class_folder_is_walked_once(tmp_path):
    write_tree(tmp_path, ["cat/a.png", "dog/b.png"])
    try:
        (tmp_path / "cat" / "again").symlink_to(tmp_path / "cat")
    except OSError:
        pytest.skip("this system does not let a user make symbolic links")

    found = read_class_folders(tmp_path)

    assert found == {"cat": [tmp_path / "cat/a.png"], "dog": [tmp_path / "dog/b.png"]}


def test_a_class_folder_of_files_but_no_images_is_an_error(tmp_path):
    write_tree(tmp_path, ["cat/a.png", "dog/notes.txt"])

    with pytest.raises(DataError, match=r"class folder .*dog holds no images"):
        read_class_folders(tmp_path)


def test_an_empty_class_folder_is_an_error(tmp_path):
    write_tree(tmp_path, ["cat/a.png", "dog/.hidden.png"])

    with pytest.raises(
        DataError, match=r"class folder .*dog holds no images \(nothing\)"
    ):
        read_class_folders(tmp_path)


def test_class_folders_given_as_the_data_dir_are_named_as_such(tmp_path):
    write_tree(tmp_path, ["cat/a.png", "dog/b.png"])

    with pytest.raises(DataError, match="holds class folders itself; put them in"):
        find_dataset(tmp_path)


def test_a_folder_without_class_folders_is_an_error(tmp_path):
    write_tree(tmp_path, ["a.png", ".hidden/b.png"])

    with pytest.raises(DataError, match="holds no class folders with images"):
        read_class_folders(tmp_path)


def test_a_dataset_of_train_and_val_folders_labels_by_sorted_class(tmp_path):
    write_tree(tmp_path, ["train/b/1.png", "train/a/1.png", "train/a/2.png"])
    write_tree(tmp_path, ["val/b/1.png"])

    dataset = find_dataset(tmp_path)

    assert dataset.classes == ["a", "b"]
    assert dataset.train.labels == [0, 0, 1]
    assert dataset.train.paths[2] == tmp_path / "train/b/1.png"
    assert (dataset.val.paths, dataset.val.labels) == ([tmp_path / "val/b/1.png"], [1])


@pytest.mark.parametrize(
    "names, error",
    [
        (["val/a/1.png"], "has no train folder"),
        (["train/a/1.png", "train/a/2.png"], r"found 1 class\(es\)"),
        (["train/a/1.png", "train/b/1.png", "val/c/1.png"], "validation class 'c'"),
    ],
)
def test_data_that_cannot_be_trained_on_is_one_data_error(tmp_path, names, error):
    write_tree(tmp_path, names)

    with pytest.raises(DataError, match=error) as raised:
        find_dataset(tmp_path)
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------- CSV files


def test_csv_paths_are_relative_to_its_folder_and_a_header_is_optional(tmp_path):
    write_tree(tmp_path, ["images/1.png", "images/2.png", "images/3.png"])
    with_header = tmp_path / "with-header.csv"
    # Excel writes a byte order mark; spaces around a field are dropped.
    with_header.write_text(
        "path,label\nimages/1.png, cat\nimages/2.png,dog\n\n", encoding="utf-8-sig"
    )
    without = tmp_path / "without.csv"
    without.write_text("images/3.png,cat\n")

    assert read_csv(with_header) == {
        "cat": [tmp_path / "images/1.png"],
        "dog": [tmp_path / "images/2.png"],
    }
    assert read_csv(without) == {"cat": [tmp_path / "images/3.png"]}


@pytest.mark.parametrize(
    "text, error",
    [
        ("path,label\nimages/1.png\n", r"line 2: expected path,label"),
        ("images/1.png,cat,extra\n", r"line 1: expected path,label"),
        ("images/1.png,\n", r"line 1: expected path,label"),
        ("images/nope.png,cat\n", r"line 1: no such file .*nope\.png"),
        ("path,label\n", "holds no path,label rows"),
    ],
)
def test_a_bad_csv_row_is_a_data_error_naming_its_line(tmp_path, text, error):
    write_tree(tmp_path, ["images/1.png"])
    path = tmp_path / "labels.csv"
    path.write_text(text)

    with pytest.raises(DataError, match=error):
        read_csv(path)


def test_a_val_csv_with_a_class_training_lacks_is_an_error(tmp_path):
    write_tree(tmp_path, ["1.png", "2.png", "3.png"])
    (tmp_path / "train.csv").write_text("1.png,cat\n2.png,dog\n")
    (tmp_path / "val.csv").write_text("3.png,bird\n")

    with pytest.raises(DataError, match="validation class 'bird'"):
        find_dataset(tmp_path, tmp_path / "train.csv", tmp_path / "val.csv")


# ---------------------------------------------------------------- held-out split


def labelled(counts):
    """A Split of made-up paths with counts[c] images of class c."""
    labels = [label for label, count in enumerate(counts) for _ in range(count)]
    return Split([f"{i}.png" for i in range(len(labels))], labels)


def test_the_split_holds_out_each_classes_share_and_keeps_every_image_once():
    images = labelled([50, 20, 10, 1])

    train, val = split(images, 0.1, seed=0)

    assert sorted(train.paths + val.paths) == sorted(images.paths)
    assert [val.labels.count(label) for label in range(4)] == [5, 2, 1, 0]
    # Each path keeps its label.
    index = dict(zip(images.paths, images.labels, strict=True))
    assert all(
        index[p] == label for p, label in zip(val.paths, val.labels, strict=True)
    )


def test_the_split_is_the_same_for_a_seed_and_differs_between_seeds():
    images = labelled([50, 50])

    first, again = split(images, 0.2, seed=3), split(images, 0.2, seed=3)
    other = split(images, 0.2, seed=4)

    assert first == again
    assert first[1].paths != other[1].paths


def test_a_split_that_holds_out_nothing_is_an_error():
    with pytest.raises(DataError, match="holds out no image"):
        split(labelled([3, 1]), 0.1, seed=0)


# ---------------------------------------------------------------- augmentation


def batch(count=8, channels=3, size=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (count, channels, size, size)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("kind", ["crop", "crop-flip", "none"])
def test_augmentation_gives_normalized_floats_the_same_for_the_same_seed(kind):
    images = batch()
    augment = BatchAugment((0.5,) * 3, (0.25,) * 3, kind)

    first = augment(images, torch.Generator().manual_seed(1))
    again = augment(images, torch.Generator().manual_seed(1))
    other = augment(images, torch.Generator().manual_seed(2))

    assert first.shape == images.shape and first.dtype == torch.float32
    assert torch.equal(first, again)
    assert torch.equal(first, other) == (kind == "none")


def test_no_augmentation_is_normalization_alone():
    images = batch(channels=1)

    augmented = BatchAugment(MEAN, STD, "none")(images, torch.Generator())

    assert torch.equal(augmented, normalize(images, MEAN, STD))
    assert torch.equal(Normalize(MEAN, STD)(images), augmented)


@pytest.mark.parametrize("kind", ["crop", "crop-flip"])
def test_every_crop_lies_inside_the_image(kind):
    # Image i is read from the box of half-sides |sides[i]| around centers[i].
    sides, centers = BatchAugment(MEAN, STD, kind).crops(2000, torch.Generator())

    assert (abs(sides) + abs(centers) <= 1 + 1e-6).all()
    assert (abs(sides) > 0).all()
    # Only crop-flip mirrors, and then about half the images.
    mirrored = (sides[:, 0] < 0).mean()
    assert mirrored == 0 if kind == "crop" else 0.4 < mirrored < 0.6


def test_channel_stats_are_each_channels_mean_and_std_of_the_scaled_pixels():
    images = batch(count=5000, channels=3)  # more than one chunk of 4096
    values = images.double().div(255).transpose(0, 1).flatten(1)

    mean, std = channel_stats(images)

    assert torch.allclose(torch.tensor(mean, dtype=torch.float64), values.mean(dim=1))
    assert torch.allclose(
        torch.tensor(std, dtype=torch.float64), values.std(dim=1, correction=0)
    )


def test_a_crop_of_the_whole_image_gives_back_its_normalized_pixels():
    images = batch(count=4, channels=1)
    augment = BatchAugment(MEAN, STD, "crop", scale=(1.0, 1.0), ratio=(1.0, 1.0))

    cropped = augment(images, torch.Generator())

    assert torch.equal(cropped, normalize(images, MEAN, STD))


def test_a_whole_image_crop_flip_gives_back_each_image_or_its_mirror():
    images = batch(count=64, channels=3)
    whole = {"scale": (1.0, 1.0), "ratio": (1.0, 1.0)}
    augment = BatchAugment((0.5,) * 3, (0.25,) * 3, "crop-flip", **whole)

    flipped = augment(images, torch.Generator().manual_seed(0))

    as_is = normalize(images, augment.mean, augment.std)
    kept = (flipped == as_is).flatten(1).all(dim=1)
    mirrored = (flipped == as_is.flip(3)).flatten(1).all(dim=1)
    assert torch.equal(kept, ~mirrored)  # each image one or the other
    assert 16 < mirrored.sum() < 48


def test_a_crop_reads_each_row_and_column_from_one_row_and_column_of_its_image():
    # Each pixel's value says where it is: 10 rows x 12 columns, values 0 to 119.
    count, height, width = 32, 10, 12
    where = torch.arange(height * width, dtype=torch.uint8).view(1, 1, height, width)
    images = where.repeat(count, 2, 1, 1)
    augment = BatchAugment((0.0,) * 2, (1 / 255,) * 2, "crop")

    cropped = augment(images, torch.Generator().manual_seed(0)).round().long()

    assert cropped.shape == images.shape
    assert torch.equal(cropped[:, 0], cropped[:, 1])  # channels alike
    rows, columns = cropped[:, 0] // width, cropped[:, 0] % width
    # A crop scales and shifts: every output row reads one image row, every
    # column one image column, in order; and most images are smaller crops.
    assert (rows == rows[:, :, :1]).all() and (columns == columns[:, :1]).all()
    assert (rows.diff(dim=1) >= 0).all() and (columns.diff(dim=2) >= 0).all()
    assert (rows.diff(dim=1) == 0).any(dim=1).float().mean() > 0.5


# ---------------------------------------------------------------- batches


def batches(loader, epoch):
    loader.set_epoch(epoch)
    return [(images.clone(), labels.clone()) for images, labels in loader]


def test_a_tensor_loader_replays_the_batches_of_an_epoch_exactly():
    images, labels = batch(count=20), torch.arange(20)
    augment = BatchAugment((0.5,) * 3, (0.25,) * 3, "crop-flip")
    loader = TensorLoader(images, labels, 6, shuffle=True, seed=7, prepare=augment)
    # A new loader, as a resumed run builds, gives the same batches for epoch 2.
    resumed = TensorLoader(images, labels, 6, shuffle=True, seed=7, prepare=augment)

    first, replayed = batches(loader, 2), batches(resumed, 2)
    other_epoch = batches(loader, 3)

    assert len(first) == len(loader) == 4
    assert sorted(torch.cat([y for _, y in first]).tolist()) == list(range(20))
    for (x, y), (x_again, y_again) in zip(first, replayed, strict=True):
        assert torch.equal(x, x_again) and torch.equal(y, y_again)
    assert not torch.equal(first[0][1], other_epoch[0][1])


def test_an_unshuffled_loader_keeps_the_order_and_prepares_each_batch():
    images, labels = batch(count=5, channels=1), torch.arange(5)
    loader = TensorLoader(images, labels, 2, prepare=Normalize(MEAN, STD))

    got = batches(loader, 1)

    assert [y.tolist() for _, y in got] == [[0, 1], [2, 3], [4]]
    assert torch.equal(torch.cat([x for x, _ in got]), normalize(images, MEAN, STD))


# ---------------------------------------------------------------- cache


def test_the_cache_key_changes_when_a_file_or_the_decoding_changes(tmp_path):
    paths = [write_image(tmp_path / f"{i}.png", value=i) for i in range(3)]
    key = cache_key(paths, 1, 8, 8)

    assert cache_key(paths, 1, 8, 8) == key
    assert cache_key(paths, 3, 8, 8) != key
    assert cache_key(paths, 1, 8, 10) != key
    assert cache_key(paths[:2], 1, 8, 8) != key
    info = os.stat(paths[0])
    os.utime(paths[0], ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    touched = cache_key(paths, 1, 8, 8)
    assert touched != key
    write_image(paths[1], value=200, size=(7, 4))  # another size on disk
    assert cache_key(paths, 1, 8, 8) not in (key, touched)


def test_cached_images_decode_once_and_name_unreadable_files_every_time(
    tmp_path, monkeypatch, capsys
):
    paths = [write_image(tmp_path / f"{i}.png", value=10 * i) for i in range(3)]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not an image")
    paths.insert(1, broken)
    cache = tmp_path / "cache"

    images, labels = cached_images(paths, [0, 1, 2, 3], 1, 4, 4, cache, workers=0)
    first_warnings = capsys.readouterr().err

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr("mytrainer.data.image_cache.decode", no_decoding)
    again, labels_again = cached_images(paths, [0, 1, 2, 3], 1, 4, 4, cache, workers=0)

    assert images.shape == (3, 1, 4, 4) and images.dtype == torch.uint8
    assert images[:, 0, 0, 0].tolist() == [0, 10, 20]
    assert labels.tolist() == [0, 2, 3]
    assert torch.equal(again, images) and torch.equal(labels_again, labels)
    assert len(list(cache.iterdir())) == 1
    assert capsys.readouterr().err == first_warnings
    assert first_warnings.splitlines() == [
        f"warning: skipped {broken}: not an image Pillow can read",
        "warning: 1 of 4 images could not be read",
    ]


def test_the_cache_keeps_the_most_recently_used_files_within_its_bound(tmp_path):
    sizes = {"a": 400, "b": 300, "c": 200, "d": 100, "e": 50}  # a: the newest
    for age, (name, size) in enumerate(sizes.items()):
        path = tmp_path / f"{name}.pt"
        path.write_bytes(b"x" * size)
        os.utime(path, (1000 - age, 1000 - age))
    (tmp_path / "notes.txt").write_text("not a cache file")

    prune(tmp_path, limit_bytes=750)

    # a and b stay whatever their size (a run's two files); c passes the bound.
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == ["a.pt", "b.pt", "notes.txt"]


def test_reading_a_cache_file_makes_it_the_last_to_go(tmp_path):
    paths = [write_image(tmp_path / f"{i}.png", value=i) for i in range(2)]
    cache = tmp_path / "cache"
    cached_images(paths[:1], [0], 1, 4, 4, cache, workers=0)
    cached_images(paths, [0, 1], 1, 4, 4, cache, workers=0)
    first, second = sorted(cache.iterdir(), key=lambda path: path.stat().st_mtime)
    os.utime(first, (1, 1))
    os.utime(second, (2, 2))
    cached_images(paths[:1], [0], 1, 4, 4, cache, workers=0)  # read, not decoded

    prune(cache, limit_bytes=0, keep=1)

    assert list(cache.iterdir()) == [first]
