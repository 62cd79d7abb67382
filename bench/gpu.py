"""Train the generated project on a GPU and report the epoch time and the time to
90% Fashion-MNIST test accuracy.

Self-contained and offline: renders the default project (or uses --project, one
rendered elsewhere, for a machine without jinja2/black), reads Fashion-MNIST from a
folder, and runs `python -m NAME.train` with the fast tensor path on the device.
The device and mixed precision are the train script's run-time choices: on a GPU
it autocasts to bfloat16 unless the extra arguments say `--amp off`.

    python bench/gpu.py --data-dir DIR [--epochs 5] [--project DIR] [-- extra train args]
    python bench/gpu.py --data-dir DIR -- --amp off          # float32
    python bench/gpu.py --data-dir DIR -- --loader dataloader  # Dataset + DataLoader

DIR holds either torchvision's layout (DIR/FashionMNIST/raw/*-ubyte) or the four
*-ubyte.gz files (as in Debian's /usr/share/datasets/fashion-mnist). Without CUDA
it says so and runs on the CPU (--device cpu), which checks the script itself.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = "gputrainer"
TARGET = 0.90
RAW = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def render_project(parent: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from scaffold.options import Options
    from scaffold.render import render

    for path, text in render(Options(name=PACKAGE)).items():
        (parent / path).parent.mkdir(parents=True, exist_ok=True)
        (parent / path).write_text(text)
    print(f"rendered {PACKAGE} with the default options")
    return parent


def torchvision_layout(data_dir: Path, scratch: Path) -> Path:
    """A root with FashionMNIST/raw, made from *.gz files when that is what DIR has."""
    if all((data_dir / "FashionMNIST" / "raw" / name).is_file() for name in RAW):
        return data_dir
    raw = scratch / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW:
        packed = data_dir / f"{name}.gz"
        if not packed.is_file():
            sys.exit(f"{data_dir} has neither FashionMNIST/raw/{name} nor {name}.gz")
        with gzip.open(packed, "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument(
        "--project", type=Path, help=f"a rendered project root holding {PACKAGE}/"
    )
    parser.add_argument(
        "--epochs", type=int, help="default: the train script's own default"
    )
    parser.add_argument(
        "train_args", nargs="*", help="more arguments for the train script"
    )
    args = parser.parse_args()

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = (
        torch.cuda.get_device_name()
        if device == "cuda"
        else "no CUDA device: CPU fallback"
    )
    print(f"device: {name}; torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as scratch:
        scratch = Path(scratch)
        root = args.project or render_project(scratch / "project")
        data_root = torchvision_layout(args.data_dir, scratch / "data")
        out = scratch / "runs"
        command = [
            sys.executable,
            "-m",
            f"{PACKAGE}.train",
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            str(data_root),
            "--device",
            device,
            "--loader",
            "tensor",
            "--output-dir",
            str(out),
            *(["--epochs", str(args.epochs)] if args.epochs else []),
            *args.train_args,
        ]
        print(" ".join(command))
        start = time.perf_counter()
        stamps = []  # (seconds since start, row) as each epoch's row appears
        with subprocess.Popen(
            command, cwd=root, stdout=subprocess.PIPE, text=True
        ) as process:
            for line in process.stdout:
                print(line, end="")
                history = out / "metrics.jsonl"
                rows = history.read_text().splitlines() if history.is_file() else []
                for text in rows[len(stamps) :]:
                    stamps.append((time.perf_counter() - start, json.loads(text)))
        if process.returncode:
            sys.exit(f"the train script failed with exit code {process.returncode}")
    total = time.perf_counter() - start
    epoch_seconds = sorted(row["seconds"] for _, row in stamps)
    print(
        f"\n{name}: {len(stamps)} epochs in {total:.1f} s (process start to exit); "
        f"median epoch {epoch_seconds[len(epoch_seconds) // 2]:.2f} s, "
        f"first {stamps[0][1]['seconds']:.2f} s"
    )
    reached = next(
        ((t, row) for t, row in stamps if row.get("accuracy", 0) >= TARGET), None
    )
    best = max(row.get("accuracy", 0.0) for _, row in stamps)
    if reached:
        t, row = reached
        print(
            f"{TARGET:.0%} test accuracy after epoch {row['epoch']}: {t:.1f} s from start"
        )
    else:
        print(f"never reached {TARGET:.0%} test accuracy (best {best:.4f})")


if __name__ == "__main__":
    main()
