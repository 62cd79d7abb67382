"""Predict throughput on the CPU: a model through model.pt (PyTorch), its ONNX
export in onnxruntime and its torch.export (.pt2) file, on the same images.

    python -m bench --only export

What is timed is the classifier predict runs, a call per batch of uint8 images
already decoded (decoding costs the three alike): the generated project's
load_classifier on each file, so the figures are predict's own. Two models: the
project's net on 28-pixel gray digits, and resnet18 on 224-pixel RGB images (the
shape of a --pretrained run). Batches of 1 and 64; the three take turns on each
repeat, and each figure is the median images per second. Weights are random:
speed does not depend on them.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import torch

from bench.common import Row, generated, interleaved, median

MODELS = {"net": (1, 28), "resnet18": (3, 224)}  # name: (channels, image size)
BATCHES = (1, 64)
RUNTIMES = {"model.pt": "pt", "onnxruntime": "onnx", "pt2": "pt2"}
# Seconds of calls that make one repeat of one runtime: long enough to average
# out the timer, short enough for 3 x 2 x 2 of them to take turns often.
REPEAT_SECONDS = 0.3


def saved_model(folder: Path, name: str) -> Path:
    """folder/model.pt of a freshly initialized `name`, as train saves it."""
    model = generated("model")
    images = generated("data.images")
    channels, size = MODELS[name]
    torch.manual_seed(0)
    preprocessing = images.Preprocessing(
        channels, size, size, (0.5,) * channels, (0.25,) * channels
    )
    card = model.ModelCard(name, [str(digit) for digit in range(10)], preprocessing)
    path = folder / "model.pt"
    model.save_model(path, model.build_model(name, 10, channels), card, 1)
    return path


def repeated(classifier, images):
    """A run of as many calls of `classifier` on `images` as take about
    REPEAT_SECONDS (from a timed warm-up), and that number of calls."""
    warm_up = interleaved({"warm-up": lambda: classifier(images)}, repeats=3)
    calls = max(1, round(REPEAT_SECONDS / median(warm_up["warm-up"])))

    def run():
        for _ in range(calls):
            classifier(images)

    return run, calls


def exported_files(folder: Path, name: str) -> dict[str, Path]:
    """{suffix: file} of a model.pt of `name` and its two exports."""
    export = generated("export")
    folder.mkdir()
    files = {"pt": saved_model(folder, name)}
    for suffix in ("onnx", "pt2"):
        output = files["pt"].with_suffix(f".{suffix}")
        with contextlib.redirect_stdout(io.StringIO()):
            files[suffix] = export.export(files["pt"], suffix, output)
    return files


@torch.no_grad()
def measure(repeats: int = 5) -> list[Row]:
    load_classifier = generated("model").load_classifier
    cpu = torch.device("cpu")
    rows = []
    with tempfile.TemporaryDirectory(prefix="scaffold-bench-export-") as folder:
        for name, (channels, size) in MODELS.items():
            files = exported_files(Path(folder) / name, name)
            classifiers = {
                runtime: load_classifier(files[suffix], cpu)[0]
                for runtime, suffix in RUNTIMES.items()
            }
            for batch in BATCHES:
                shape = (batch, channels, size, size)
                images = torch.randint(0, 256, shape, dtype=torch.uint8)
                runs = {
                    runtime: repeated(classifier, images)
                    for runtime, classifier in classifiers.items()
                }
                times = interleaved(
                    {runtime: run for runtime, (run, _) in runs.items()}, repeats
                )
                speeds = {
                    runtime: runs[runtime][1] * batch / median(seconds)
                    for runtime, seconds in times.items()
                }
                for runtime, speed in speeds.items():
                    rows.append(
                        Row(
                            "predict throughput (CPU)",
                            f"{name} {size} px, batch {batch}: {runtime}",
                            speed,
                            "images/s",
                            f"{speed / speeds['model.pt']:.2f}x model.pt",
                        )
                    )
    return rows
