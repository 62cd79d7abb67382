"""Reading images and masks: which files pair up, what a mask may hold, the
held-out split, and the augmentation that moves a mask with its image."""

import numpy as np
import pytest
import torch
from PIL import Image

from mytrainer.data.images import ImageError
from mytrainer.data.joint_augment import JointAugment, MaskLoader
from mytrainer.data.loaders import DataError
from mytrainer.data.masks import check_indices, found_classes, read_pairs
from mytrainer.data.pairs import (
    IGNORE_INDEX,
    find_dataset,
    find_pairs,
    read_mask,
    read_pair,
)


def write_pair(split, name, size=(6, 4), mask_value=1, image_suffix=".png"):
    """An image and its mask under split/images and split/masks."""
    image = split / "images" / f"{name}{image_suffix}"
    mask = split / "masks" / f"{name}.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    mask.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 10, 10)).save(image)
    Image.new("L", size, mask_value).save(mask)
    return image, mask


def test_images_pair_with_masks_of_the_same_path_and_stray_files_are_passed_over(
    tmp_path,
):
    split = tmp_path / "train"
    write_pair(split, "b", image_suffix=".jpg")
    write_pair(split, "a")
    write_pair(split, "nested/c")
    (split / "images" / "notes.txt").write_text("not an image")
    (split / "masks" / "Thumbs.db").write_bytes(b"\0")

    pairs = find_pairs(split)

    assert [p.relative_to(split / "images") for p in pairs.images] == [
        p.relative_to(split / "images") for p in sorted(pairs.images)
    ]
    assert [p.stem for p in pairs.images] == [p.stem for p in pairs.masks]
    assert len(pairs.images) == 3


def test_an_image_without_a_mask_is_an_error_naming_it(tmp_path):
    image, mask = write_pair(tmp_path / "train", "a")
    mask.unlink()
    write_pair(tmp_path / "train", "b")

    with pytest.raises(DataError, match=r"a\.png: no mask; expected .*masks/a\.png"):
        find_pairs(tmp_path / "train")


def test_a_mask_without_an_image_is_an_error_naming_it(tmp_path):
    image, mask = write_pair(tmp_path / "train", "a")
    image.unlink()
    write_pair(tmp_path / "train", "b")

    with pytest.raises(DataError, match=r"masks/a\.png: no image of this name"):
        find_pairs(tmp_path / "train")


def test_without_a_val_folder_a_seeded_share_validates(tmp_path):
    for index in range(10):
        write_pair(tmp_path / "train", f"{index}")

    dataset = find_dataset(tmp_path, 0.2, seed=3)

    assert len(dataset.val.images) == 2 and len(dataset.train.images) == 8
    assert not set(dataset.val.images) & set(dataset.train.images)
    assert find_dataset(tmp_path, 0.2, seed=3) == dataset
    assert dataset.classes is None  # no classes.txt


def test_classes_txt_names_the_classes_in_index_order(tmp_path):
    write_pair(tmp_path / "train", "a")
    write_pair(tmp_path / "val", "b")
    (tmp_path / "classes.txt").write_text("sky\ntree\n\n")

    assert find_dataset(tmp_path, 0.1, seed=0).classes == ["sky", "tree"]


def test_a_palette_mask_is_read_by_its_indices_not_its_colours(tmp_path):
    indices = np.array([[0, 1], [2, IGNORE_INDEX]], dtype=np.uint8)
    mask = Image.fromarray(indices)
    mask.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [255, 255, 255] * 253)
    mask.save(tmp_path / "mask.png")

    assert Image.open(tmp_path / "mask.png").mode == "P"
    assert (read_mask(tmp_path / "mask.png") == indices).all()


def test_a_colour_mask_is_refused(tmp_path):
    Image.new("RGB", (2, 2), (1, 1, 1)).save(tmp_path / "mask.png")

    with pytest.raises(DataError, match="RGB image; a mask is single-channel"):
        read_mask(tmp_path / "mask.png")


def test_a_broken_mask_cannot_be_read(tmp_path):
    (tmp_path / "mask.png").write_bytes(b"not a png")

    with pytest.raises(ImageError, match="not an image Pillow can read"):
        read_mask(tmp_path / "mask.png")


def test_a_mask_of_another_size_than_its_image_is_an_error_naming_it(tmp_path):
    image, mask = write_pair(tmp_path, "a", size=(6, 4))
    Image.new("L", (4, 6), 1).save(mask)

    with pytest.raises(DataError, match=r"a\.png: 4x6 pixels, its image 6x4"):
        read_pair(image, mask, 3, 8)


def test_a_pair_is_resized_whole_the_mask_by_nearest_neighbour(tmp_path):
    image, mask = write_pair(tmp_path, "a", size=(6, 4))
    values = np.zeros((4, 6), dtype=np.uint8)
    values[:, 3:] = 2  # the right half holds class 2
    Image.fromarray(values).save(mask)

    pixels, classes = read_pair(image, mask, 1, 8)

    assert pixels.shape == (1, 8, 8) and pixels.dtype == torch.uint8
    assert classes.shape == (8, 8)
    assert set(classes.unique().tolist()) == {0, 2}  # no blend of the two
    assert (classes[:, :4] == 0).all() and (classes[:, 4:] == 2).all()


def test_an_unreadable_pair_is_skipped_with_a_warning(tmp_path, capsys):
    split = tmp_path / "train"
    write_pair(split, "a")
    image, _ = write_pair(split, "b")
    image.write_bytes(b"not an image")
    pairs = find_pairs(split)

    images, masks, paths = read_pairs(pairs, 3, 4, workers=2)

    assert len(images) == len(masks) == 1 and paths[0].stem == "a"
    assert "skipped" in capsys.readouterr().err


def test_classes_are_the_indices_found_without_classes_txt():
    masks = torch.tensor([[[0, 3], [IGNORE_INDEX, 1]]], dtype=torch.uint8)

    assert found_classes(masks) == ["0", "1", "2", "3"]


def test_an_index_past_the_classes_is_an_error_naming_the_mask():
    masks = torch.zeros(2, 2, 2, dtype=torch.uint8)
    masks[1, 0, 1] = 5
    masks[0, 0, 0] = IGNORE_INDEX  # never past the classes

    with pytest.raises(DataError, match="second.png: holds class index 5, past the 3"):
        check_indices(masks, ["first.png", "second.png"], ["a", "b", "c"])


def test_augmentation_moves_each_mask_exactly_as_its_image():
    # Each pixel's value in the image encodes its class in the mask: after the
    # same crop and flip the two must still agree at every pixel.
    masks = torch.randint(0, 4, (8, 16, 16), dtype=torch.uint8)
    images = (masks * 60)[:, None].expand(-1, 3, -1, -1).contiguous()
    augment = JointAugment((0.0,) * 3, (1 / 255,) * 3, "crop-flip")

    out_images, out_masks = augment(images, masks, torch.Generator().manual_seed(0))

    assert out_masks.dtype == torch.int64 and out_masks.shape == masks.shape
    # Both read each pixel from the same place, so they agree at every pixel.
    assert torch.equal(out_images[:, 0].div(60).round().long(), out_masks)
    assert not torch.equal(out_masks, masks.long())  # it did move them


def test_the_loader_batches_masks_with_their_images_in_a_replayable_order():
    masks = torch.arange(10, dtype=torch.uint8)[:, None, None].expand(-1, 2, 2)
    images = masks[:, None].clone()
    loader = MaskLoader(
        images,
        masks.clone(),
        batch_size=4,
        shuffle=True,
        seed=1,
        prepare=JointAugment((0.0,), (1 / 255,), "none"),
    )

    batches = list(loader)

    for batch_images, batch_masks in batches:
        assert torch.equal(batch_images[:, 0].round().long(), batch_masks)
    assert [m[:, 0, 0].tolist() for _, m in batches] == [
        m[:, 0, 0].tolist() for _, m in loader
    ]
