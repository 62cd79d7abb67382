"""What the benchmarks share: a rendered project to import, the Fashion-MNIST
folder, and timing that survives a busy machine (interleaved runs, medians)."""

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
from scripts.datasets import fashion

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "benchtrainer"


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


def write_project(parent: Path, **options) -> Path:
    """Render the project into parent/PACKAGE and return parent (its root)."""
    for path, text in render(Options(name=PACKAGE, **options)).items():
        target = parent / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return parent


_project_dir: tempfile.TemporaryDirectory | None = None


def generated(module: str):
    """Import PACKAGE.<module> from one default render shared by the whole run."""
    global _project_dir
    if _project_dir is None:
        _project_dir = tempfile.TemporaryDirectory(prefix="scaffold-bench-")
        write_project(Path(_project_dir.name))
        sys.path.insert(0, _project_dir.name)
    return importlib.import_module(f"{PACKAGE}.{module}")


def project_root() -> Path:
    generated("engine")
    return Path(_project_dir.name)


def fashion_root(root: Path | None = None) -> Path:
    """A folder with FashionMNIST/raw (torchvision's layout), made from Debian's
    dataset-fashion-mnist files on first use."""
    root = (
        root
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "scaffold-bench"
    )
    fashion(root)
    return root


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
