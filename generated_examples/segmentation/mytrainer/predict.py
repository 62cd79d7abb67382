"""Segment images with a trained model: a mask per image, the class of every pixel.

    python -m mytrainer.predict --checkpoint runs/RUN/model.pt --output-dir out photos/
    python -m mytrainer.predict --checkpoint runs/RUN/model.pt --output-dir out \\
        --overlay cat.jpg

Each image gets OUTPUT_DIR/NAME.png, a mask of the image's own size whose pixel
values are class indices, in the format of the training masks (a palette PNG: a
viewer shows a colour per class). --overlay also writes NAME.overlay.png, the image
with those colours laid over it. A line per image names its mask and the classes
that cover it most. Folders are searched recursively; each image gets the
preprocessing of validation, as saved in model.pt, and the predicted mask is
resized back to the image's size. An image that cannot be read is skipped with a
warning naming it. --checkpoint also takes the model.onnx (run by onnxruntime) or
model.pt2 that export.py writes.
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .arguments import (
    ArgumentParser,
    HelpFormatter,
    add_saved_model_arguments,
    positive_int,
    writable_folder,
)
from .data.images import ImageError, find_images, open_image, to_tensor
from .errors import RunError, UsageError, fail
from .model import load_classifier

OVERLAY_OPACITY = 0.5  # of the class colours over the image


def parse_args(argv=None):
    parser = ArgumentParser(
        description="Segment images with a model that train saved.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("paths", nargs="+", help="image files and folders")
    add_saved_model_arguments(parser, exported=True)
    parser.add_argument(
        "--output-dir",
        type=writable_folder,
        required=True,
        help="where the masks go, NAME.png for each image NAME.*",
    )
    parser.add_argument(
        "--overlay",
        action="store_true",
        help="also write NAME.overlay.png: the image with each class's colour on it",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=16, help="images per forward pass"
    )
    return parser.parse_args(argv)


def main(argv=None):
    try:
        segment(parse_args(argv))
    except RunError as error:
        fail(error)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader went away (`predict ... | head`): stop quietly, as Unix tools
        # do, and keep Python from failing to flush stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def segment(args):
    classifier, card = load_classifier(args.checkpoint, args.device)
    paths = find_images(args.paths)
    if not paths:
        raise ImageError(f"no images in {', '.join(args.paths)}")
    check_names(paths)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    colours = palette(len(card.classes))
    written = 0
    for path, image, mask in predict(classifier, card.preprocessing, paths, args):
        target = output_dir / f"{path.stem}.png"
        save_mask(mask, colours, target)
        if args.overlay:
            overlay(image, mask, colours).save(output_dir / f"{path.stem}.overlay.png")
        print(f"{path}\t{target}\t{coverage(mask, card.classes)}")
        written += 1
    skipped = len(paths) - written
    if skipped:
        print(f"warning: {skipped} of {len(paths)} images skipped", file=sys.stderr)


def check_names(paths):
    """Two images of the same name (in different folders) would write one mask."""
    seen = {}
    for path in paths:
        if path.stem in seen:
            raise UsageError(
                f"{path} and {seen[path.stem]} would both write {path.stem}.png; "
                "predict them into different --output-dir folders"
            )
        seen[path.stem] = path


@torch.no_grad()
def predict(classifier, preprocessing, paths, args):
    """(path, image, mask) per readable image: the image as read ("L" or "RGB"),
    and its predicted mask, an (H, W) uint8 array of class indices at its size."""
    size = preprocessing.image_size
    for start in range(0, len(paths), args.batch_size):
        batch = []
        for path in paths[start : start + args.batch_size]:
            try:
                batch.append((path, open_image(path, preprocessing.channels)))
            except ImageError as error:
                print(f"warning: skipped {error}", file=sys.stderr)
        if not batch:
            continue
        resized = [
            to_tensor(image.resize((size, size), Image.Resampling.BILINEAR))
            for _, image in batch
        ]
        probabilities = classifier(torch.stack(resized).to(args.device))
        for (path, image), scores in zip(batch, probabilities, strict=True):
            # Probabilities, not classes, are resized: the mask's edges then fall
            # between the pixels of the model's output.
            at_size = F.interpolate(
                scores[None], size=(image.height, image.width), mode="bilinear"
            )
            mask = at_size[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
            yield path, image, mask


def palette(count):
    """A colour per class, (count, 3) uint8: Pascal VOC's, which sets the bits of
    each class index across the three channels, so neighbours differ."""
    colours = np.zeros((count, 3), dtype=np.uint8)
    for index in range(count):
        value = index
        for bit in range(7, -1, -1):
            for channel in range(3):
                colours[index, channel] |= ((value >> channel) & 1) << bit
            value >>= 3
    return colours


def save_mask(mask, colours, path):
    """`mask` as a palette PNG: its values are the class indices, its palette the
    class colours; written whole or not at all."""
    image = Image.fromarray(mask)
    image.putpalette(colours.flatten().tolist())  # which makes it a palette image
    partial = path.with_name(f"{path.name}.partial")
    image.save(partial, format="PNG")
    os.replace(partial, path)


def overlay(image, mask, colours):
    """The image with the colour of each pixel's class laid over it."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    blended = (1 - OVERLAY_OPACITY) * pixels + OVERLAY_OPACITY * colours[mask]
    return Image.fromarray(blended.round().astype(np.uint8))


def coverage(mask, classes, shown=3):
    """The classes that cover most of the mask, with their shares."""
    counts = np.bincount(mask.ravel(), minlength=len(classes))
    top = np.argsort(-counts, kind="stable")[:shown]
    return "  ".join(
        f"{classes[i]} {counts[i] / mask.size:.0%}" for i in top if counts[i]
    )


if __name__ == "__main__":
    main()
