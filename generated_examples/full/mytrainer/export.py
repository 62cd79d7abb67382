"""Export a trained model to run without this project: ONNX or torch.export.

    python -m mytrainer.export --checkpoint runs/RUN/model.pt --format onnx
    python -m mytrainer.export --checkpoint runs/RUN/model.pt --format pt2

The file takes uint8 images (N, C, H, W), resized and cropped as the model's card
says, and returns their class probabilities: the normalization is inside. The card
(class names, preprocessing, what the input must be) travels in the file: ONNX
metadata "model_card", or model_card.json among a .pt2 file's extra files, as JSON.
Any batch size runs. ONNX files of models over 2 GB keep their weights in a
FILE.onnx.data beside them, which must travel with them.

Before it returns, export runs the file and the PyTorch model on the same batch
and removes the file if they differ by more than 1e-4 (TOLERANCE). onnx needs
onnx, onnxscript and onnxruntime: pip install -e '.[export]'.
"""

import contextlib
import io
import os
from pathlib import Path

import torch

from .arguments import ArgumentParser, HelpFormatter, existing_file
from .errors import RunError, UsageError, fail
from .model import ImageClassifier, load_classifier, load_saved_model
from .model.classifier import CARD_FILE, CARD_KEY, card_json, optional_module
from .model.weights import cause

FORMATS = ("onnx", "pt2")
TOLERANCE = 1e-4  # the most an exported probability may differ from PyTorch's


class ExportError(RunError):
    """A model that cannot be exported, or whose export gives other answers."""


def parse_args(argv=None):
    parser = ArgumentParser(
        description="Export a model that train saved to ONNX or torch.export.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--checkpoint",
        type=existing_file,
        required=True,
        help="a run's model.pt (its best epoch), last.pt or checkpoints/*.pt",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        required=True,
        help="onnx: for onnxruntime and other runtimes; pt2: for torch.export.load",
    )
    parser.add_argument(
        "--output", type=Path, help="the file to write (default: beside --checkpoint)"
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = args.checkpoint.with_suffix(f".{args.format}")
    elif args.output.suffix.lower() != f".{args.format}":
        # predict tells the formats apart by the file's suffix.
        raise UsageError(
            f"argument --output: expected a .{args.format} file, got {args.output}"
        )
    if args.output.is_dir():
        raise UsageError(f"argument --output: {args.output} is a folder")
    return args


def main(argv=None):
    try:
        args = parse_args(argv)
        path = export(args.checkpoint, args.format, args.output)
    except RunError as error:
        fail(error)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    print(f"{args.format}: {path}")


def export(checkpoint, file_format, output):
    """Write the model of `checkpoint` to `output` as `file_format`, checked against
    PyTorch; on any failure, or when it differs, no file is left."""
    if file_format == "onnx":  # fail before the work if a package is missing
        for name in ("onnx", "onnxscript", "onnxruntime"):
            optional_module(name)
    model, card = load_saved_model(checkpoint, "cpu")
    classifier = ImageClassifier(model, card.preprocessing).eval()
    channels, size = card.preprocessing.channels, card.preprocessing.image_size
    # Two images to trace with: torch.export takes a batch of 1 for a fixed size.
    example = random_images(2, channels, size, seed=0)
    with torch.no_grad():
        described = card_json(card, classifier(example).shape[1:])
    written = [output, Path(f"{output}.data")]  # ONNX's weights file, if any
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if file_format == "onnx":
            export_onnx(classifier, example, described, output)
        else:
            export_pt2(classifier, example, described, output)
        check(classifier, output, random_images(3, channels, size, seed=1))
    except OSError as error:
        remove(written)
        raise ExportError(f"{output}: cannot write it ({error})") from None
    except BaseException:
        remove(written)
        raise
    return output


def remove(paths):
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def random_images(count, channels, size, seed):
    generator = torch.Generator().manual_seed(seed)
    shape = (count, channels, size, size)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)


def dynamic_batch():
    batch = {0: torch.export.Dim("batch", min=1)}  # any number of images
    return {"images": batch}


def export_onnx(classifier, example, described, output):
    """Write `classifier` as ONNX, `described` (card_json) in its metadata."""
    # torch.onnx prints its steps as it goes: the terminal gets export's line alone.
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            program = torch.onnx.export(
                classifier,
                (example,),
                dynamo=True,
                input_names=["images"],
                output_names=["probabilities"],
                dynamic_shapes=dynamic_batch(),
                verbose=False,
            )
    except Exception as error:
        raise ExportError(
            f"torch.onnx cannot export the model: {cause(error)}"
        ) from None
    program.model.metadata_props[CARD_KEY] = described
    program.save(output)  # one file, or with FILE.data beside it over 2 GB


def export_pt2(classifier, example, described, output):
    """Write `classifier` as torch.export's .pt2 file, `described` beside it."""
    try:
        program = torch.export.export(
            classifier, (example,), dynamic_shapes=dynamic_batch()
        )
    except Exception as error:
        raise ExportError(
            f"torch.export cannot export the model: {cause(error)}"
        ) from None
    torch.export.save(program, output, extra_files={CARD_FILE: described})


@torch.no_grad()
def check(classifier, output, images):
    """Refuse the file unless it gives PyTorch's probabilities on `images`, a
    batch of another size than the one it was traced with."""
    exported, _ = load_classifier(output, torch.device("cpu"))
    difference = (exported(images) - classifier(images)).abs().max().item()
    if not difference <= TOLERANCE:  # NaN too
        raise ExportError(
            f"{output}: its probabilities differ from PyTorch's by {difference:.2g} "
            f"(more than {TOLERANCE:g}); file removed"
        )


if __name__ == "__main__":
    main()
