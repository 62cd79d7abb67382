"""What the benchmarks share: rendered projects to import, Fashion-MNIST (as
torchvision's raw files and as a folder of PNGs), and timing that survives a busy
machine (interleaved runs, medians)."""

from __future__ import annotations

import importlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scaffold.options import Options
from scaffold.render import render
from scripts.datasets import fashion, fashion_folder

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "benchtrainer"
# The package each data kind is rendered as: names of their own, so that the
# projects of one run import side by side.
PACKAGES = {
    "mnist": PACKAGE,
    "imagefolder": "benchimages",
    "masks": "benchsegmentation",
}


@dataclass
class Row:
    """One line of the results table."""

    figure: str  # which measurement, e.g. "engine overhead"
    case: str  # what ran, e.g. "generated, 5 handlers"
    value: float | None  # the median, in `unit`
    unit: str
    note: str = ""  # ratios and counts measured in the same run
    goal: str = ""
    met: bool | None = None  # None: no goal for this row


def write_project(parent: Path, name: str = PACKAGE, **options) -> Path:
    """Render the project into parent/name and return parent (its root)."""
    for path, text in render(Options(name=name, **options)).items():
        target = parent / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return parent


_project_dirs: dict[str, tempfile.TemporaryDirectory] = {}


def generated(module: str, data: str = "mnist"):
    """Import <package>.<module> from one render per data kind (PACKAGES), shared
    by the whole run: generated("model") is the default project's model module."""
    if data not in _project_dirs:
        folder = tempfile.TemporaryDirectory(prefix="scaffold-bench-")
        write_project(Path(folder.name), PACKAGES[data], data=data)
        sys.path.insert(0, folder.name)
        _project_dirs[data] = folder
    return importlib.import_module(f"{PACKAGES[data]}.{module}")


def project_root() -> Path:
    """The root of the default project's render (PACKAGE is a folder in it)."""
    generated("engine")
    return Path(_project_dirs["mnist"].name)


def cache_root(root: Path | None = None) -> Path:
    """Where the bench keeps its data: root, or ~/.cache/scaffold-bench."""
    return (
        root
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "scaffold-bench"
    )


def fashion_root(root: Path | None = None) -> Path:
    """A folder with FashionMNIST/raw (torchvision's layout), made from Debian's
    dataset-fashion-mnist files on first use."""
    root = cache_root(root)
    fashion(root)
    return root


def fashion_images(root: Path | None = None) -> Path:
    """Fashion-MNIST as a folder of 28-px PNGs, ROOT/fashion-folder/train/<class>/
    (60,000) and .../val/<class>/ (10,000), written on first use."""
    return fashion_folder(cache_root(root) / "fashion-folder")


def interleaved(runners: dict, repeats: int, clock=time.perf_counter) -> dict:
    """{name: [seconds of each repeat]}; the runners take turns each repeat, so a
    burst of load from other processes hits all of them alike."""
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            start = clock()
            run()
            times[name].append(clock() - start)
    return times


def median(values) -> float:
    return statistics.median(values)


def paired_overhead(times: dict, name: str, base: str) -> float:
    """Median over repeats of (name - base): a pair ran back to back, so the
    difference of each pair is steadier than the difference of two medians."""
    return statistics.median(a - b for a, b in zip(times[name], times[base]))


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
