"""A generated project on disk: its record file, its pristine base and atomic writes.

Layout written next to the user's files:
    .scaffold.json    tool version, template fingerprint and every option (small)
    .scaffold/base/   the exact files of the last render: the merge base for `update`,
                      kept in the project so updating needs neither the old tool nor a network
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scaffold import __version__
from scaffold.errors import InvalidOption, NotAProject, OutputDirError
from scaffold.options import Options
from scaffold.render import fingerprint, render

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
        return Record(
            Options.from_record(data["options"]),
            str(data["scaffold_version"]),
            str(data["templates_fingerprint"]),
        )
    except (ValueError, KeyError, TypeError, InvalidOption) as exc:
        raise NotAProject(
            f"{path} is corrupt ({exc}); restore it from version control"
        ) from exc


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

    templates: the template tree to render (default: the installed one).
    """
    root = output_dir / options.name
    check_writable(output_dir)
    if root.exists() and not root.is_dir():
        raise OutputDirError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise OutputDirError(
            f"{root} is not empty; pass --force to overwrite the generated files "
            "(files you added are kept)"
        )
    rendered = render(options, root=templates)
    files = {path: text.encode() for path, text in rendered.items()}
    files.update(bookkeeping_files(current_record(options, templates), rendered))
    if root.exists():
        # --force: replace only the files we generate; anything else stays.
        for path, data in files.items():
            write_atomic(root / path, data)
    else:
        stage = Path(tempfile.mkdtemp(prefix=f".{options.name}-", dir=output_dir))
        try:
            for path, data in files.items():
                target = stage / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            stage.rename(root)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
    return root


def check_writable(directory: Path) -> None:
    probe = directory
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputDirError(f"{probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputDirError(f"cannot write to {probe}: permission denied")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputDirError(f"cannot write to {directory}: {exc.strerror}") from None


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
