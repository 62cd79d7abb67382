"""Classify images with a trained model: a line per image, its class and probability.

    python -m mytrainer.predict --checkpoint runs/RUN/model.pt photos/ cat.jpg
    python -m mytrainer.predict --checkpoint runs/RUN/model.pt --topk 3 photos/
    python -m mytrainer.predict --checkpoint runs/model.onnx photos/

Each line is `path<TAB>class<TAB>probability`, then the next guesses with --topk;
--output writes the same rows to a CSV file.
Folders are searched recursively; each image gets the preprocessing of validation
(see data/images.py), as saved in model.pt. An image that cannot be read is skipped with
a warning naming it. --checkpoint also takes the model.onnx (run by onnxruntime) or
model.pt2 that export.py writes, with the same answers.
"""

import csv
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import torch

from .arguments import (
    ArgumentParser,
    HelpFormatter,
    add_saved_model_arguments,
    positive_int,
)
from .data.images import ImageError, find_images, load_image
from .errors import RunError, fail
from .model import load_classifier


def parse_args(argv=None):
    parser = ArgumentParser(
        description="Classify images with a model that train saved.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("paths", nargs="+", help="image files and folders")
    add_saved_model_arguments(parser, exported=True)
    parser.add_argument(
        "--topk", type=positive_int, default=1, help="guesses to show per image"
    )
    parser.add_argument("--output", help="also write the guesses to this CSV file")
    parser.add_argument(
        "--batch-size", type=positive_int, default=64, help="images per forward pass"
    )
    return parser.parse_args(argv)


def read_batches(paths, preprocessing, batch_size):
    """(paths, uint8 images) per batch, decoded by threads (PIL releases the GIL
    while decoding); unreadable images are left out with a warning."""
    size, resize = preprocessing.image_size, preprocessing.resize_size

    def read(path):
        try:
            return path, load_image(path, preprocessing.channels, size, resize)
        except ImageError as error:
            print(f"warning: skipped {error}", file=sys.stderr)
            return path, None

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(paths), batch_size):
            results = pool.map(read, paths[start : start + batch_size])
            good = [(path, image) for path, image in results if image is not None]
            if good:
                batch_paths, images = zip(*good, strict=True)
                yield list(batch_paths), torch.stack(images)


@torch.no_grad()
def predict(classifier, batches, topk, device):
    """(path, [(class index, probability), ...]) per image, best guess first."""
    for paths, images in batches:
        probabilities = classifier(images.to(device))
        values, indices = probabilities.topk(topk, dim=1)
        for path, row_values, row_indices in zip(
            paths, values.tolist(), indices.tolist(), strict=True
        ):
            yield path, list(zip(row_indices, row_values, strict=True))


def main(argv=None):
    try:
        classify(parse_args(argv))
    except RunError as error:
        fail(error)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader went away (`predict ... | head`): stop quietly, as Unix tools
        # do, and keep Python from failing to flush stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def classify(args):
    classifier, card = load_classifier(args.checkpoint, args.device)
    classes, preprocessing = card.classes, card.preprocessing
    paths = find_images(args.paths)
    if not paths:
        raise ImageError(f"no images in {', '.join(args.paths)}")
    topk = min(args.topk, len(classes))
    batches = read_batches(paths, preprocessing, args.batch_size)
    rows = []
    for path, guesses in predict(classifier, batches, topk, args.device):
        fields = [str(path)]
        for index, probability in guesses:
            fields += [classes[index], f"{probability:.4f}"]
        print("\t".join(fields))
        rows.append(fields)
    skipped = len(paths) - len(rows)
    if skipped:
        print(f"warning: {skipped} of {len(paths)} images skipped", file=sys.stderr)
    if args.output:
        write_csv(args.output, rows, topk)


def write_csv(path, rows, topk):
    header = ["path", "class", "probability"]
    for rank in range(2, topk + 1):
        header += [f"class_{rank}", f"probability_{rank}"]
    partial = f"{path}.partial"
    with open(partial, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(partial, path)


if __name__ == "__main__":
    main()
