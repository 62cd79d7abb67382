"""The benchmark suite: one table of medians, ratios measured side by side.

    python -m bench                      # all but instructions, imagefolder (~8 min)
    python -m bench --only engine,step   # some sections: engine, step, epoch, accuracy, new, ui, export
    python -m bench --only step,instructions   # + the step in instructions (valgrind)
    python -m bench --only imagefolder   # a 60,000-PNG folder (~12 min)
    python -m bench --only segmentation  # U-Net epoch on 800 digit canvases (~1 min)
    python bench/run.py --repeats 5      # same thing, run as a script

Needs Fashion-MNIST from Debian's dataset-fashion-mnist (scripts/install_bench.sh
installs it and, when they leave torch alone, pytorch-ignite and Lightning);
the bench lays it out for torchvision in --data-dir. Not run by CI: timings on a
shared machine are noisy, so each figure is a median and each ratio compares
runs that took turns. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, fashion_images, fashion_root, load_average

SECTIONS = (
    "engine",
    "step",
    "epoch",
    "accuracy",
    "new",
    "ui",
    "export",
    "segmentation",
    "imagefolder",
    "instructions",
)
# Counting instructions under valgrind, and the image-folder epochs, take minutes
# each: only when asked for.
DEFAULT_SECTIONS = SECTIONS[:-2]


def machine() -> str:
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in info
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def print_table(rows: list[Row]) -> None:
    header = (
        "figure",
        "case",
        "median",
        "unit",
        "same-run ratio / note",
        "goal",
        "met",
    )
    lines = [header]
    for row in rows:
        value = (
            "-"
            if row.value is None
            else f"{row.value:.3f}" if row.value < 100 else f"{row.value:.0f}"
        )
        met = "" if row.met is None else "yes" if row.met else "NO"
        lines.append((row.figure, row.case, value, row.unit, row.note, row.goal, met))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
        )
        if i == 0:
            print("  ".join("-" * width for width in widths))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma list of sections: {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=9,
        help="runs per figure for the fast sections (engine, step)",
    )
    parser.add_argument(
        "--epoch-repeats",
        type=int,
        default=3,
        help="runs per figure for the epoch, imagefolder, segmentation and "
        "scaffold-new sections",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where to lay out Fashion-MNIST, and its PNG folder in fashion-folder/ "
        "(default ~/.cache/scaffold-bench)",
    )
    parser.add_argument("--no-lightning", action="store_true", help="skip Lightning")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads, here and in the train subprocess (default: "
        "torch's). On a loaded machine 1 is steadier: 2 threads that "
        "wait on each other for a core slow small ops tenfold",
    )
    parser.add_argument(
        "--train-args",
        default="",
        help="extra arguments for the time-to-accuracy run, e.g. '--batch-size 256'",
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",")]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(
            f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}"
        )

    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the train subprocess
        import torch

        torch.set_num_threads(args.threads)
    print(machine())
    print(f"load average before: {load_average()}")
    started = time.perf_counter()
    rows: list[Row] = []
    lightning = not args.no_lightning
    if "engine" in chosen:
        from bench import engine_overhead

        rows += engine_overhead.measure(repeats=args.repeats, with_lightning=lightning)
    if "step" in chosen:
        from bench import supervised_step

        rows += supervised_step.measure(repeats=args.repeats, with_lightning=lightning)
    if "instructions" in chosen:
        from bench import step_instructions

        raw_us = next(
            (row.value for row in rows if row.case == "raw PyTorch loop"), None
        )
        rows += step_instructions.measure(raw_us)
    if "epoch" in chosen or "accuracy" in chosen:
        data_dir = fashion_root(args.data_dir)
    if "epoch" in chosen:
        from bench import epoch

        rows += epoch.measure(data_dir, repeats=args.epoch_repeats)
    if "accuracy" in chosen:
        from bench import to_accuracy

        rows += to_accuracy.measure(data_dir, args.train_args.split())
    if "imagefolder" in chosen:
        from bench import imagefolder

        rows += imagefolder.measure(
            fashion_images(args.data_dir), repeats=args.epoch_repeats
        )
    if "segmentation" in chosen:
        from bench import segmentation

        # An epoch is 25 steps of a few seconds in all: more of them, for steadier
        # medians.
        rows += segmentation.measure(
            segmentation.canvases(args.data_dir), repeats=max(args.epoch_repeats, 5)
        )
    if "new" in chosen:
        from bench import scaffold_new

        rows += scaffold_new.measure(repeats=max(args.epoch_repeats, 5))
    if "ui" in chosen:
        from bench import ui_preview

        rows += ui_preview.measure()
    if "export" in chosen:
        from bench import export

        rows += export.measure(repeats=args.epoch_repeats)
    print(
        f"load average after:  {load_average()}  ({time.perf_counter() - started:.0f} s)"
    )
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
