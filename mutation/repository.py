"""Copies of the repository to break: the files git would see, nothing ignored."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def repository_files() -> list[str]:
    """Tracked and untracked, not ignored files, as `git ls-files` names them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    names = listed.stdout.decode().split("\0")
    # A tracked file deleted in the working tree is listed but absent.
    return sorted({name for name in names if name and (REPO / name).is_file()})


def copy_repository(files: list[str], target: Path) -> None:
    for name in files:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target / name)
