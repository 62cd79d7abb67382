"""Run folders: without --output-dir, every run writes into a new folder of runs/.

    runs/20261206-083512-3f9a/    config.json, metrics.jsonl, model.pt, last.pt, ...

A name is the run's start (UTC, to the second) and four random hex digits, so
`ls runs` lists runs oldest first. The folder is made with mkdir, which fails on a
name that is taken: two runs never share a folder, even when they start in the
same second or on two machines that share the disk. Under torchrun the first
process makes it and the others take its name.
"""

import atexit
import contextlib
import os
import time
from pathlib import Path

from .engine.distributed import from_main_process, is_main_process
from .errors import RunError

RUNS = Path("runs")


def new_run_folder(root=RUNS):
    """A new, empty folder under `root`, the same one on every process."""
    folder = make_run_folder(root) if is_main_process() else None
    return from_main_process(folder)


def make_run_folder(root):
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        root.mkdir(parents=True, exist_ok=True)
        while True:
            folder = root / f"{stamp}-{os.urandom(2).hex()}"
            with contextlib.suppress(FileExistsError):  # taken: draw again
                folder.mkdir()
                break
    except OSError as error:
        message = f"cannot make a run folder in {root}: {error.strerror}"
        raise RunError(message) from None
    # A run that fails before writing anything leaves no empty folder behind.
    atexit.register(remove_if_empty, folder)
    return folder


def remove_if_empty(folder):
    with contextlib.suppress(OSError):  # rmdir removes empty folders only
        folder.rmdir()
