"""Image decoding: every mode to "L" or "RGB", the files a folder search keeps, the
errors a bad file gives, and the same resize and crop as torchvision's transforms."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from mytrainer.data.images import (
    IMAGE_EXTENSIONS,
    ImageError,
    find_images,
    fit,
    is_image_path,
    load_image,
    normalize,
    open_image,
    short_side,
    to_tensor,
)

RED, WHITE, BLACK = (255, 0, 0), (255, 255, 255), (0, 0, 0)


def image(mode, values):
    """A one-row image of `mode` whose pixels are `values`, left to right."""
    row = Image.new(mode, (len(values), 1))
    for x, value in enumerate(values):
        row.putpixel((x, 0), value)
    return row


def palette_image(indices, colors, **info):
    picture = image("P", indices)
    picture.putpalette([channel for color in colors for channel in color])
    picture.info.update(info)
    return picture


# mode: (the image, the file it is saved as, the RGB pixels it must come out as)
CASES = {
    "1": (image("1", [0, 1]), "a.png", [BLACK, WHITE]),
    "L": (image("L", [0, 200]), "a.png", [BLACK, (200, 200, 200)]),
    # Transparent pixels come out black, whatever colour they hold.
    "LA": (image("LA", [(200, 255), (200, 0)]), "a.png", [(200, 200, 200), BLACK]),
    "P": (palette_image([0, 1], [BLACK, RED]), "a.png", [BLACK, RED]),
    "P with a transparent colour": (
        palette_image([1, 2], [BLACK, WHITE, RED], transparency=2),
        "a.png",
        [WHITE, BLACK],
    ),
    "PA": (palette_image([0, 1], [RED, WHITE]).convert("PA"), "a.tiff", [RED, WHITE]),
    "RGB": (image("RGB", [RED, (10, 20, 30)]), "a.png", [RED, (10, 20, 30)]),
    "RGBA": (
        image("RGBA", [(*RED, 255), (*WHITE, 0), (200, 100, 50, 128)]),
        "a.png",
        [RED, BLACK, (100, 50, 25)],
    ),
    "CMYK": (image("CMYK", [(0, 255, 255, 0), (0, 0, 0, 255)]), "a.tiff", [RED, BLACK]),
    "YCbCr": (
        image("RGB", [(128, 128, 128), WHITE]).convert("YCbCr"),
        "a.tiff",
        [(128, 128, 128), WHITE],
    ),
    # 16- and 32-bit values are scaled to 8 bits (65535 -> 255), not clipped at 255.
    "I;16": (image("I;16", [65535, 32768, 0]), "a.png", [WHITE, (128,) * 3, BLACK]),
    "I;16B": (image("I;16B", [65535, 32768, 0]), "a.tiff", [WHITE, (128,) * 3, BLACK]),
    "I": (image("I", [65535, 32768, 0]), "a.tiff", [WHITE, (128,) * 3, BLACK]),
    "F": (image("F", [1.0, 0.5, 0.0]), "a.tiff", [WHITE, (128,) * 3, BLACK]),
}


def save(tmp_path, picture, name, **options):
    path = tmp_path / name
    picture.save(path, **options)
    return path


@pytest.mark.parametrize("mode", CASES)
def test_every_mode_comes_out_as_rgb_or_gray_with_its_values(tmp_path, mode):
    picture, name, expected = CASES[mode]
    path = save(tmp_path, picture, name)
    rgb = open_image(path, channels=3)
    gray = open_image(path, channels=1)

    assert (rgb.mode, gray.mode) == ("RGB", "L")
    expected_rgb = np.array([expected], dtype=np.uint8)
    expected_gray = np.asarray(Image.fromarray(expected_rgb).convert("L"))
    assert np.abs(np.asarray(rgb, dtype=int) - expected_rgb).max() <= 1
    assert np.abs(np.asarray(gray, dtype=int) - expected_gray).max() <= 1


def test_a_16_bit_png_keeps_its_gray_levels(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = save(tmp_path, Image.fromarray(values), "scan.png")

    assert np.asarray(open_image(path, channels=1)).tolist() == [[0, 1, 128, 255]]


def test_a_gif_gives_its_first_frame(tmp_path):
    white, black = Image.new("L", (2, 1), 255), Image.new("L", (2, 1), 0)
    path = save(tmp_path, white, "a.gif", save_all=True, append_images=[black])

    assert np.asarray(open_image(path, channels=1)).tolist() == [[255, 255]]


def test_the_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    path = save(tmp_path, Image.new("RGB", (3, 2)), "photo.jpg", exif=exif)

    assert open_image(path, channels=3).size == (2, 3)


def test_a_folder_search_keeps_images_in_any_case_and_skips_hidden_and_other_files(
    tmp_path,
):
    for name in [
        "a.PNG",
        "b.jpeg",
        "nested/c.webp",
        ".DS_Store",
        "._a.PNG",  # macOS's resource-fork file for a.PNG
        ".ipynb_checkpoints/d.png",
        "nested/notes.txt",
        "empty/",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir()
        else:
            path.write_bytes(b"not read")

    found = find_images([tmp_path, tmp_path / "a.PNG"])

    assert found == [
        tmp_path / "a.PNG",
        tmp_path / "b.jpeg",
        tmp_path / "nested/c.webp",
    ]
    assert find_images(tmp_path / "nested") == [tmp_path / "nested/c.webp"]


def test_linked_folders_are_searched_and_a_link_loop_ends(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    save(photos, Image.new("L", (2, 2)), "a.png")
    try:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "cats").symlink_to(photos, target_is_directory=True)
        (photos / "loop").symlink_to(photos, target_is_directory=True)
    except OSError:
        pytest.skip("this system does not let a user make symbolic links")

    assert find_images(tmp_path / "data") == [tmp_path / "data/cats/a.png"]


def test_which_names_are_images():
    assert all(is_image_path(f"x{extension}") for extension in IMAGE_EXTENSIONS)
    assert is_image_path("photos/X.JPG")
    assert not is_image_path("photos/.x.jpg")
    assert not is_image_path("photos/x.txt")


def test_a_path_that_does_not_exist_is_an_error_not_an_empty_list(tmp_path):
    with pytest.raises(ImageError, match="typo"):
        find_images([tmp_path, tmp_path / "typo"])


def truncated_png(tmp_path):
    whole = save(tmp_path, Image.new("RGB", (64, 64), RED), "whole.png").read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def corrupt_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG garbage\n" * 20)
    return path


@pytest.mark.parametrize("bad_file", [corrupt_file, truncated_png])
def test_a_bad_file_raises_an_image_error_of_one_line_naming_it(tmp_path, bad_file):
    path = bad_file(tmp_path)

    with pytest.raises(ImageError) as error:
        load_image(path, channels=3, size=8)

    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message


def test_the_short_side_comes_from_the_header(tmp_path):
    path = save(tmp_path, Image.new("L", (40, 28)), "wide.png")

    assert short_side(path) == 28
    with pytest.raises(ImageError, match="broken.png"):
        short_side(corrupt_file(tmp_path))


def test_fit_scales_the_shorter_side_and_keeps_the_centre():
    wide = Image.new("L", (40, 20))
    wide.paste(255, (8, 0, 32, 20))  # a white band, wider than the centre square

    square = np.asarray(fit(wide, size=10))

    # 40 x 20 scaled to 20 x 10: the band spans columns 4 to 15, the crop 5 to 14.
    assert square.shape == (10, 10)
    assert square.min() == 255


@pytest.mark.parametrize(
    "width, height, size, resize",
    [
        (40, 28, 28, None),
        (31, 28, 28, None),  # the crop's left edge at 1.5 rounds to 2
        (28, 28, 56, 64),
        (33, 50, 16, 20),
        (640, 480, 224, 256),
    ],
)
def test_fit_gives_the_pixels_of_torchvision_resize_and_center_crop(
    width, height, size, resize
):
    noise = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    picture = Image.fromarray(noise)
    torchvision_way = transforms.Compose(
        [transforms.Resize(resize or size), transforms.CenterCrop(size)]
    )

    ours = np.asarray(fit(picture, size, resize), dtype=int)
    theirs = np.asarray(torchvision_way(picture), dtype=int)

    assert ours.shape == theirs.shape == (size, size, 3)
    assert np.abs(ours - theirs).max() <= 1


def test_a_loaded_image_is_a_uint8_tensor_of_the_asked_channels_and_size(tmp_path):
    path = save(tmp_path, Image.new("L", (40, 28), 7), "digit.bmp")

    rgb = load_image(path, channels=3, size=16)
    gray = to_tensor(Image.new("L", (5, 4)))

    assert (rgb.dtype, rgb.shape, rgb.is_contiguous()) == (
        torch.uint8,
        (3, 16, 16),
        True,
    )
    assert rgb.eq(7).all()
    assert gray.shape == (1, 4, 5)


def test_normalize_scales_to_0_1_then_standardizes_each_channel():
    batch = (
        torch.tensor([0, 255], dtype=torch.uint8).view(1, 2, 1, 1).repeat(2, 1, 3, 3)
    )

    images = normalize(batch, mean=[0.0, 0.5], std=[1.0, 0.25])

    assert images.dtype == torch.float32
    assert images[:, 0].eq(0).all() and images[:, 1].eq(2).all()
    with pytest.raises(ValueError, match="one per channel"):
        normalize(batch, mean=[0.5], std=[0.5])
    with pytest.raises(ValueError, match="uint8"):
        normalize(images, mean=[0.0, 0.5], std=[1.0, 0.25])
