"""Reading any image file as a fixed-size uint8 tensor, the one way everywhere.

Training and `predict` both go through `load_image`, so a photo is decoded,
converted, resized and cropped the same way in both:

    open_image(path, channels)  any mode Pillow decodes -> "L" or "RGB"
    fit(image, size, resize)    shorter side to `resize`, then the centre size x size
    to_tensor(image)            (C, H, W) uint8 (to_array: the same as NumPy)

`normalize` turns a batch of those into the floats a model takes, on the device
the batch is on: images travel and are cached as uint8, a quarter of float32.
"""

import functools
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import RunError

IMAGE_EXTENSIONS = frozenset(
    {".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}
)
MODES = {1: "L", 3: "RGB"}  # by number of channels
ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
ORIENTATION = 0x0112  # the EXIF tag

# What Pillow raises for a file it cannot decode: not an image (UnidentifiedImageError,
# an OSError), cut short (OSError, EOFError), too large (DecompressionBombError),
# or malformed inside (ValueError, SyntaxError and struct.error from broken chunks).
DECODE_ERRORS = (
    OSError,
    EOFError,
    Image.DecompressionBombError,
    ValueError,
    SyntaxError,
    struct.error,
)


class Preprocessing(NamedTuple):
    """How an image becomes the model's input: converted to `channels`, resized so
    that its shorter side is `resize_size`, center-cropped to `image_size` and
    normalized per channel. Saved with the model, so predict repeats it exactly.
    None leaves a value to be chosen from the data."""

    channels: int | None = None
    image_size: int | None = None
    resize_size: int | None = None
    mean: tuple | None = None
    std: tuple | None = None


class ImageError(RunError):
    """An image that cannot be read: the message is one line, the file and the cause."""


def is_image_path(path):
    """Whether `path` names an image by its extension, in any case. Hidden names
    (".DS_Store", the "._photo.jpg" files macOS leaves on other disks) are never
    images, whatever their extension."""
    # os.path rather than Path(path): a folder of 100,000 images is listed in
    # half the time.
    name = os.path.basename(path)
    extension = os.path.splitext(name)[1].lower()
    return not name.startswith(".") and extension in IMAGE_EXTENSIONS


def find_images(paths):
    """The image files among `paths` (files, or folders searched recursively),
    sorted and each once.

    Hidden files and folders (".git", ".ipynb_checkpoints") are skipped, and so are
    files that are not images by their extension. A path that does not exist is
    an error rather than nothing found: it is most likely a typo.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found = set()
    for path in map(Path, paths):
        if path.is_dir():
            found.update(images_under(path))
        elif path.exists():
            if is_image_path(path):
                found.add(path)
        else:
            raise ImageError(f"{path}: no such file or folder")
    return sorted(found)


def images_under(folder):
    return (path for path in walk_files(folder) if is_image_path(path))


def walk_files(folder):
    """Every file under `folder`, in sorted order, leaving out hidden files and
    folders; a folder reached again through a symlink (a loop) is walked once."""
    seen = set()  # real paths of the folders walked
    for parent, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(parent)
        if real in seen:
            folders.clear()
            continue
        seen.add(real)
        # Pruning `folders` in place keeps os.walk out of hidden folders.
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        # Joined to one Path per folder: a third of the time of Path(parent, name).
        parent = Path(parent)
        for name in sorted(files):
            if not name.startswith("."):
                yield parent / name


def open_image(path, channels):
    """The image at `path`, decoded in full, upright, as "L" (channels=1) or "RGB".

    Every failure to read it raises ImageError, so a caller can skip or report a
    bad file without knowing Pillow's many exceptions.
    """
    if channels not in MODES:
        raise ValueError(f"expected channels 1 or 3, got {channels}")
    try:
        with Image.open(path) as image:
            image.load()  # decodes now: a truncated file fails here, not later
            # Phones store a photo as the sensor saw it plus an EXIF rotation tag.
            # Asked first: exif_transpose copies even an image it leaves as it is.
            if image.getexif().get(ORIENTATION, 1) != 1:
                image = ImageOps.exif_transpose(image)
            return to_mode(image, MODES[channels])
    except UnidentifiedImageError as error:
        raise ImageError(f"{path}: not an image Pillow can read") from error
    except DECODE_ERRORS as error:
        raise ImageError(f"{path}: {describe(error)}") from error


def to_mode(image, mode):
    """`image` in `mode` ("L" or "RGB"), from any mode Pillow opens files in.

    For a GIF, `image` is its first frame.
    """
    if image.mode.startswith("I") or image.mode == "F":
        image = to_8_bits(image)
    elif has_alpha(image):
        image = over_black(image)
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # 1, P, CMYK, YCbCr, LAB, HSV
    return image if image.mode == mode else image.convert(mode)


def to_8_bits(image):
    """A 16-bit, 32-bit or float grayscale image as "L", scaled rather than clipped.

    Pillow's own convert("L") clips these at 255, which turns a 16-bit scan white.
    Integer modes hold 16-bit values in practice (Pillow opens 16-bit PNG and TIFF
    files as "I;16" or, in older versions, "I"), so 65535 becomes 255 and larger
    values clip; float images are taken to hold 0 to 1, as scikit-image writes them.
    """
    values = np.asarray(image, dtype=np.float64)
    scale = 255 if image.mode == "F" else 255 / 65535
    values = np.clip(np.rint(values * scale), 0, 255)
    return Image.fromarray(values.astype(np.uint8))


def has_alpha(image):
    # A palette, gray or RGB PNG can name one transparent colour ("transparency"):
    # convert("RGBA") turns it into an alpha channel like any other.
    return image.mode in ALPHA_MODES or "transparency" in image.info


def over_black(image):
    """`image` composited over black, as "RGB".

    Black rather than white: what lies under a transparent pixel is otherwise
    arbitrary, and black is what a white-on-transparent drawing (a digit, a logo)
    needs to look like the white-on-black images models are usually trained on.
    """
    rgba = image.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return Image.alpha_composite(black, rgba).convert("RGB")


def describe(error):
    """The cause of `error` on one line, without the file name Pillow may repeat."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror  # "No such file or directory"
    return " ".join(str(error).split()) or type(error).__name__


def fit(image, size, resize=None):
    """Scale `image` so its shorter side is `resize` (default: `size`), then cut
    out the centre size x size square.

    The same pixels as torchvision's Resize(resize or size) and CenterCrop(size) on
    a PIL image: bilinear with antialiasing, and the crop's offsets rounded as
    CenterCrop rounds them. A larger `resize` keeps less of the border.
    """
    resize = resize or size
    if resize < size:
        raise ValueError(f"expected resize >= size ({size}), got {resize}")
    width, height = image.size
    if width <= height:
        scaled = (resize, int(resize * height / width))
    else:
        scaled = (int(resize * width / height), resize)
    if scaled != image.size:
        image = image.resize(scaled, Image.Resampling.BILINEAR)
    if scaled == (size, size):
        return image
    left = int(round((scaled[0] - size) / 2.0))
    top = int(round((scaled[1] - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def to_tensor(image):
    """An "L" or "RGB" image as a contiguous (C, H, W) uint8 tensor."""
    # A copy: torch wants memory it may write to.
    return torch.from_numpy(np.array(to_array(image), order="C"))


def to_array(image):
    """An "L" or "RGB" image as a (C, H, W) uint8 NumPy array, not to be written
    to: Pillow's pixels, copied once."""
    if image.mode not in MODES.values():
        raise ValueError(f'expected an "L" or "RGB" image, got mode "{image.mode}"')
    array = np.asarray(image)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def load_image(path, channels, size, resize=None):
    """The image at `path` as a (channels, size, size) uint8 tensor; ImageError
    if it cannot be read."""
    return to_tensor(fit(open_image(path, channels), size, resize))


def load_array(path, channels, size, resize=None):
    """load_image's pixels as a NumPy array not to be written to, for gathering
    thousands of images into one: without a tensor of its own per image, copied
    once more."""
    return to_array(fit(open_image(path, channels), size, resize))


def short_side(path):
    """The shorter side of the image at `path`, in pixels, read from its header
    alone: a quick survey of a folder's sizes."""
    return min(header(path)[1])


def header(path):
    """(mode, (width, height)) of the image at `path`, read from its header alone
    (Image.open decodes nothing); ImageError if it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.mode, image.size
    except UnidentifiedImageError as error:
        raise ImageError(f"{path}: not an image Pillow can read") from error
    except DECODE_ERRORS as error:
        raise ImageError(f"{path}: {describe(error)}") from error


def normalize(batch, mean, std):
    """(N, C, H, W) uint8 images -> float32 (x / 255 - mean) / std, per channel,
    on the batch's device. `mean` and `std` hold one value per channel."""
    if batch.dtype != torch.uint8:
        # A float batch would be scaled twice, and overwritten by the in-place steps.
        raise ValueError(f"expected a uint8 batch, got {batch.dtype}")
    channels = batch.shape[1]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(
            f"expected {channels} means and stds (one per channel), "
            f"got {len(mean)} and {len(std)}"
        )
    mean, std = channel_constants(tuple(mean), tuple(std), batch.device)
    return batch.float().div_(255).sub_(mean).div_(std)


@functools.lru_cache(maxsize=8)
def channel_constants(mean, std, device):
    """mean and std as (1, C, 1, 1) tensors on `device`, made once: on a GPU each
    new one is a copy from the host that every batch would wait for."""
    mean = torch.tensor(mean, dtype=torch.float32, device=device)
    std = torch.tensor(std, dtype=torch.float32, device=device)
    return mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
