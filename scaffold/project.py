"""A generated project on disk: its record file, its pristine base, and `create`.

Layout written next to the user's files:
    .scaffold.json    tool version, template fingerprint and every option (small)
    .scaffold/base/   the exact files of the last render: the merge base for `update`,
                      kept in the project so updating needs neither the old tool nor a network
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import __version__
from scaffold.errors import InvalidOption, NotAProject, OutputDirError
from scaffold.options import Options
from scaffold.registry import DATA_KINDS
from scaffold.render import fingerprint, render
from scaffold.transaction import (
    JOURNAL,
    SUFFIX_LENGTH,
    Transaction,
    leftovers,
    recover,
    write_all,
)

RECORD_FILE = ".scaffold.json"
BASE_DIR = ".scaffold/base"


@dataclass(frozen=True)
class Record:
    options: Options
    scaffold_version: str
    templates_fingerprint: str

    def to_json(self) -> str:
        data = {
            "scaffold_version": self.scaffold_version,
            "templates_fingerprint": self.templates_fingerprint,
            "options": self.options.to_record(),
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def current_record(options: Options, templates: Path | None = None) -> Record:
    return Record(options, __version__, fingerprint(templates))


def read_record(root: Path) -> Record:
    path = root / RECORD_FILE
    if not path.is_file():
        raise NotAProject(f"{root} is not a scaffold project (no {RECORD_FILE})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        for key in ("scaffold_version", "templates_fingerprint", "options"):
            if key not in data:
                raise ValueError(f"{key!r} is missing")
        for key in ("scaffold_version", "templates_fingerprint"):
            if not isinstance(data[key], str):
                raise TypeError(f"{key!r} must be a string, not {data[key]!r}")
        parse_version(data["scaffold_version"])
        return Record(
            Options.from_record(data["options"]),
            data["scaffold_version"],
            data["templates_fingerprint"],
        )
    except (ValueError, TypeError, InvalidOption) as exc:
        raise NotAProject(
            f"{path} is corrupt ({exc}); restore it from version control"
        ) from exc


def parse_version(text: str) -> Any:
    """A scaffold version as a comparable value: packaging's Version when it is
    installed, else (release numbers without trailing zeros, final?, suffix),
    which orders 0.2.0rc1 < 0.2 == 0.2.0 < 0.10.0 as well."""
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        match = re.fullmatch(r"v?(\d+(?:\.\d+)*)(.*)", text.strip())
        if not match:
            raise ValueError(f"scaffold_version {text!r} is not a version") from None
        release = [int(part) for part in match[1].split(".")]
        while len(release) > 1 and release[-1] == 0:
            release.pop()
        return tuple(release), not match[2], match[2]
    try:
        return Version(text)
    except InvalidVersion:
        raise ValueError(f"scaffold_version {text!r} is not a version") from None


def read_base(root: Path) -> dict[str, bytes]:
    base = root / BASE_DIR
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def bookkeeping_files(record: Record, rendered: dict[str, str]) -> dict[str, bytes]:
    """The record file and the pristine base copy that go beside a render."""
    files = {f"{BASE_DIR}/{path}": text.encode() for path, text in rendered.items()}
    files[RECORD_FILE] = record.to_json().encode()
    return files


def create(
    options: Options,
    output_dir: Path,
    force: bool = False,
    templates: Path | None = None,
) -> Path:
    """Render a new project into output_dir/<name>; returns the project root.

    All or nothing: the files are staged in output_dir/.<name>-xxxxxxxx and
    swapped in (scaffold/transaction.py), so a failure leaves every folder as
    it was. templates: the template tree to render (default: the installed one).
    """
    root = output_dir / options.name
    existing = check_writable(output_dir)
    check_name_fits(existing, options.name)
    if os.path.lexists(root) and not root.is_dir():
        raise OutputDirError(f"{root} exists and is not a directory")
    if os.path.lexists(root / RECORD_FILE):
        raise OutputDirError(
            f"{root} is already a scaffold project, and `new` would overwrite your "
            f"edits; `scaffold update {root}` merges the templates into them "
            "(pass it any options to change)"
        )
    if root.is_dir() and any(root.iterdir()) and not force:
        raise OutputDirError(
            f"{root} is not empty; pass --force to overwrite the generated files "
            "(files you added are kept)"
        )
    rendered = render(options, root=templates)
    files = {path: text.encode() for path, text in rendered.items()}
    files.update(bookkeeping_files(current_record(options, templates), rendered))
    check_paths_fit(existing, files)
    if root.is_dir():
        check_nothing_in_the_way(root, files)

    def stage(transaction: Transaction) -> None:
        if root.is_dir():
            # --force: replace only the files we generate; anything else stays.
            for path, data in files.items():
                transaction.stage(path, data)
        else:
            transaction.stage_tree("", files)

    made = make_folders(output_dir)
    try:
        write_all(
            root, output_dir, scratch_prefix(options.name), stage, f"writing {root}"
        )
    except BaseException:
        for folder in reversed(made):  # the output folders this call created
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return root


def train_command(options: Options, root: Path) -> str:
    """The shell command that trains a new project, with its kind of data's example
    --data-dir."""
    data_dir = DATA_KINDS[options.data].data_dir
    return f"cd {root} && python -m {options.name}.train --data-dir {data_dir}"


def scratch_prefix(name: str) -> str:
    return f".{name}-"


def recover_interrupted_new(output_dir: Path, name: str) -> str:
    """Undo and delete what a killed `new` left in output_dir; one line saying
    so, or ""."""
    folders = [
        folder
        for folder in leftovers(output_dir, scratch_prefix(name))
        if (folder / JOURNAL).is_file()  # only folders a transaction made
    ]
    restored = [recover(folder) for folder in folders]
    if any(restored):
        return (
            f"an earlier `scaffold new` was interrupted midway: put the files in "
            f"{output_dir / name} back as they were before it"
        )
    if folders:
        names = ", ".join(folder.name for folder in folders)
        return (
            f"removed {names} from {output_dir}, left by an interrupted `scaffold new`"
        )
    return ""


def check_writable(directory: Path) -> Path:
    """Refuse a directory that cannot be created or written; returns its nearest
    existing folder (itself, when it exists)."""
    probe = directory
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputDirError(f"{probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputDirError(f"cannot write to {probe}: permission denied")
    return probe


def make_folders(directory: Path) -> list[Path]:
    """Create directory and its missing parents; returns those created, outermost first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
    except OSError as exc:
        for folder in reversed(made):
            folder.rmdir()
        raise OutputDirError(f"cannot write to {missing[0]}: {exc.strerror}") from None
    return made


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, that folder's file system accepts."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # unknown, or not POSIX
        return 255
    return limit if limit > 0 else 255


def check_name_fits(folder: Path, name: str) -> None:
    """Refuse a name too long for folder's file system, counting the staging
    folder .<name>-xxxxxxxx that new builds the project in."""
    limit = name_max(folder) - len(scratch_prefix("")) - SUFFIX_LENGTH
    if len(name.encode()) > limit:
        raise OutputDirError(
            f"project name is {len(name)} characters long; at most {limit} fit in "
            f"a file name on the file system of {folder}"
        )


def check_paths_fit(folder: Path, files: dict[str, bytes]) -> None:
    limit = name_max(folder)
    for path in files:
        for part in path.split("/"):
            if len(part.encode()) > limit:
                raise OutputDirError(
                    f"cannot write {path}: {part!r} is longer than the {limit} "
                    f"bytes a file name may have on the file system of {folder}"
                )


def check_nothing_in_the_way(root: Path, files: dict[str, bytes]) -> None:
    """--force replaces generated files, never a folder or a file where one goes."""
    for path in files:
        target = root / path
        if target.is_dir() and not target.is_symlink():
            raise OutputDirError(
                f"{target} is a folder where `new` writes a file; move it away first"
            )
        for parent in target.parents:
            if parent == root:
                break
            if os.path.lexists(parent) and not parent.is_dir():
                raise OutputDirError(
                    f"{parent} is a file where `new` makes a folder; move it away first"
                )
