"""Update: re-render a project and merge the new render into the files the user edited.

Every file the tool generates has three versions:
    base    .scaffold/base/<path>: exactly what the tool wrote last time
    ours    the file on disk, with the user's edits
    theirs  the new render (installed templates, options possibly changed)
`plan_update` decides what happens to each file without writing anything; `apply`
stages the whole result aside and swaps it in, or leaves the project as it was
(scaffold/transaction.py). The record and the new base are swapped in last, so
they only ever describe a project whose files were updated. An update killed
midway leaves a scratch folder in .scaffold/; `recover_interrupted` undoes it.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scaffold import __version__
from scaffold.errors import (
    InvalidOption,
    NewerProject,
    NotAProject,
    ScaffoldError,
    UnresolvedConflicts,
    WriteFailed,
)
from scaffold.names import Problem, check_names
from scaffold.options import Options
from scaffold.project import (
    BASE_DIR,
    RECORD_FILE,
    Record,
    current_record,
    parse_version,
    read_base,
    read_record,
)
from scaffold.registry import MOVED
from scaffold.render import output_path, render
from scaffold.transaction import (
    Transaction,
    is_half_done,
    leftovers,
    recover,
    take_lock,
    write_all,
)

# The three sides as conflict blocks name them, in git merge-file's order.
LABELS = ("your version", "last generated", "new template")
MARKERS = (b"<<<<<<< ", b">>>>>>> ")
# Where apply stages an update: .scaffold/update-xxxxxxxx, beside the base.
SCRATCH_PARENT, SCRATCH_PREFIX = ".scaffold", "update-"

# What each action means, in the order the report lists them.
ACTIONS = {
    "created": "new in the templates",
    "updated": "template changes applied (you had not edited these)",
    "merged": "template changes merged with your edits",
    "moved": "moved by the templates, with your edits (if any) merged at the new path",
    "conflicted": "your edits and the template changes overlap: resolve the marked blocks",
    "removed": "dropped by the templates (you had not edited these)",
    "kept": "dropped by the templates but kept, because you edited them",
    "deleted": "changed by the templates but left deleted, as you deleted them",
    "skipped": "not plain text, so left alone; the new version is written beside",
}


class UpdateFailed(WriteFailed):
    """Writing the update failed midway; the project was restored as it was."""


@dataclass(frozen=True)
class Change:
    """What update does to one generated file.

    target is the file written or removed: the file itself, a new file beside it
    for a file that is not text, or the file's new path when the templates moved
    it. before/after are its bytes (None: absent).
    """

    path: str
    action: str
    target: str
    before: bytes | None
    after: bytes | None
    mode: int | None = None  # permission bits the written file keeps
    moved: bool = False  # path is removed: the file now lives at target

    @property
    def touches_disk(self) -> bool:
        return self.moved or self.before != self.after


@dataclass(frozen=True)
class Plan:
    root: Path
    old_record: Record
    record: Record  # written after the update
    base: dict[str, bytes]  # the new render: the next update's base
    changes: list[Change]
    up_to_date: bool
    # What the Python files the user edited or wrote would name that is not there.
    problems: list[Problem]

    @property
    def conflicts(self) -> list[str]:
        return [c.target for c in self.changes if c.action == "conflicted"]

    def summary(self) -> str:
        """One line saying why the project is behind (empty when it is not)."""
        if self.up_to_date:
            return ""
        changed = sum(c.touches_disk for c in self.changes)
        if changed:
            return f"{count_files(changed)} would change; `scaffold diff` shows how"
        return f"none of your files would change, only {RECORD_FILE} and {BASE_DIR}"

    def conflict_message(self) -> str:
        """What to do about the conflicts the update left, in one line."""
        return (
            f"conflicts in {count_files(len(self.conflicts))}: "
            f"{', '.join(self.conflicts)}; "
            "edit each block between <<<<<<< and >>>>>>> to the code you want"
        )


def plan_update(
    root: Path, changes: dict[str, Any] | None = None, templates: Path | None = None
) -> Plan:
    """Decide every file's fate for `update`; reads the project, writes nothing.

    changes: options to change from the recorded ones; templates: the template
    tree to render (default: the installed one).
    """
    refuse_interrupted(root)
    old_record = read_record(root)
    refuse_downgrade(root, old_record)
    if not (root / BASE_DIR).is_dir():
        raise NotAProject(
            f"{root / BASE_DIR} is missing, so there is nothing to merge against; "
            "restore it from version control"
        )
    options = changed_options(old_record.options, changes or {})
    theirs = {p: t.encode() for p, t in render(options, root=templates).items()}
    try:
        base = read_base(root)
        refuse_unresolved(root, base, theirs)
        moves = moved_files(root, old_record.options, base, theirs)
        file_changes = [
            change
            for old, new in moves.items()
            if (change := plan_move(root, old, new, base[old], theirs[new]))
        ]
        file_changes += [
            change
            for path in sorted(
                (base.keys() | theirs.keys()) - {*moves, *moves.values()}
            )
            if (change := plan_file(root, path, base.get(path), theirs.get(path)))
        ]
        python = python_files_after(root, options.name, file_changes)
    except OSError as error:  # a file the user cannot read, a folder in the way
        raise ScaffoldError(f"cannot read the project ({error})") from error
    record = current_record(options, templates)
    up_to_date = (
        base == theirs
        and record == old_record
        and not any(c.touches_disk for c in file_changes)
    )
    # Files equal to the new render are correct by construction: check the others,
    # except those that are no text (update leaves them alone, and so does this).
    checked = {
        path
        for path, data in python.items()
        if theirs.get(path) != data and is_text(data)
    }
    problems = check_names(python, checked, options.name)
    return Plan(root, old_record, record, theirs, file_changes, up_to_date, problems)


def python_files_after(
    root: Path, package: str, changes: list[Change]
) -> dict[str, bytes]:
    """{path: bytes} of the package's and the tests' Python files as the update
    would leave them."""
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for folder in (root / package, root / "tests")
        for path in sorted(folder.rglob("*.py"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    for change in changes:
        if change.moved:
            files.pop(change.path, None)
        if change.touches_disk and change.target.endswith(".py"):
            if change.after is None:
                files.pop(change.target, None)
            else:
                files[change.target] = change.after
    return files


def changed_options(recorded: Options, changes: dict[str, Any]) -> Options:
    """The recorded options with `changes` applied; a different task is refused,
    since a project of another task is another project, not an update of this one."""
    task = changes.get("task", recorded.task)
    if task != recorded.task:
        raise InvalidOption(
            f"--task {task}: this is a {recorded.task} project, and a {task} "
            f"project is another project; create it with `scaffold new NAME "
            f"--task {task}`"
        )
    return recorded.replace(**changes)


def refuse_downgrade(root: Path, record: Record) -> None:
    """An older scaffold would undo the newer templates' changes: refuse."""
    if parse_version(record.scaffold_version) > parse_version(__version__):
        raise NewerProject(
            f"{root} was written by scaffold {record.scaffold_version}, newer than "
            f"this scaffold {__version__}; upgrade scaffold to update it"
        )


def count_files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def plan_file(
    root: Path, path: str, base: bytes | None, theirs: bytes | None
) -> Change | None:
    """One generated file's fate; None when update leaves it as it is."""
    file = root / path
    if file.is_symlink() or (file.exists() and not file.is_file()):
        # Not a plain file any more: the user made it something else on purpose.
        return (
            beside(root, path, theirs)
            if theirs is not None and theirs != base
            else None
        )
    ours = file.read_bytes() if file.exists() else None
    if theirs is None:  # the templates dropped it
        if ours is None or base is None:
            return None
        if ours == base:
            return Change(path, "removed", path, ours, None)
        return Change(path, "kept", path, ours, ours)
    if ours is None:
        if base is None:
            return Change(path, "created", path, None, theirs)
        return Change(path, "deleted", path, None, None) if theirs != base else None
    if theirs == base:
        return None
    if not is_text(ours):
        return beside(root, path, theirs)
    # A file the user created where the templates now add one merges against an
    # empty base: whatever differs becomes a conflict, never an overwrite.
    action, after = bring_up_to_date(ours, base or b"", theirs)
    if after == ours:
        return None
    return Change(path, action, path, ours, after, file.stat().st_mode & 0o7777)


def moved_files(
    root: Path, options: Options, base: dict[str, bytes], theirs: dict[str, bytes]
) -> dict[str, str]:
    """{old path: new path} of the generated files that the templates moved since
    the last render (MOVED in the registry), where the move can carry the user's
    version: the old file is a plain file, and nothing is in the new one's way."""
    moves = {}
    for old, new in MOVED.items():
        old = output_path(old, options.name)
        new = output_path(new.format(data=options.data), options.name)
        if old not in base or old in theirs or new not in theirs or new in base:
            continue
        file, target = root / old, root / new
        if file.is_symlink() or (file.exists() and not file.is_file()):
            continue
        if target.exists() or target.is_symlink():
            continue
        moves[old] = new
    return moves


def plan_move(root: Path, old: str, new: str, base: bytes, theirs: bytes) -> Change:
    """A moved file's fate: the user's version of old, merged with the template
    changes, written at new; old is removed."""
    file = root / old
    if not file.exists():
        return Change(old, "deleted", new, None, None)
    ours = file.read_bytes()
    mode = file.stat().st_mode & 0o7777
    if not is_text(ours):
        return Change(old, "skipped", new, None, theirs)
    action, after = bring_up_to_date(ours, base, theirs)
    action = "conflicted" if action == "conflicted" else "moved"
    return Change(old, action, new, ours, after, mode, moved=True)


def bring_up_to_date(ours: bytes, base: bytes, theirs: bytes) -> tuple[str, bytes]:
    """The user's text `ours` with the changes from base to theirs, and how they
    came in: "updated" (ours was base), "merged" or "conflicted". A file whose
    every line ended in CRLF keeps them."""
    lf, crlf = to_lf(ours)
    if lf == base:
        action, merged = "updated", theirs
    else:
        merged, conflicts = merge(lf, base, theirs)
        action = "conflicted" if conflicts else "merged"
    return action, merged.replace(b"\n", b"\r\n") if crlf else merged


def beside(root: Path, path: str, theirs: bytes) -> Change:
    """The new version goes beside a file that is not text, under a free name."""
    target, n = f"{path}.new", 1
    while (root / target).exists() or (root / target).is_symlink():
        n += 1
        target = f"{path}.new{n}"
    return Change(path, "skipped", target, None, theirs)


def is_text(data: bytes) -> bool:
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def to_lf(data: bytes) -> tuple[bytes, bool]:
    """The data with LF line endings, and whether every line ended in CRLF."""
    crlf = b"\r\n" in data and data.count(b"\r\n") == data.count(b"\n")
    return (data.replace(b"\r\n", b"\n") if crlf else data), crlf


def merge(ours: bytes, base: bytes, theirs: bytes) -> tuple[bytes, int]:
    """Three-way merge with git merge-file; returns the result and its conflict count.

    Conflicts are written in diff3 style, so each block also shows what the tool
    generated last time: the user sees what each side changed.
    """
    with tempfile.TemporaryDirectory(prefix="scaffold-merge-") as tmp:
        files = []
        for name, data in zip(("ours", "base", "theirs"), (ours, base, theirs)):
            files.append(Path(tmp, name))
            files[-1].write_bytes(data)
        labels = [arg for label in LABELS for arg in ("-L", label)]
        command = ["git", "merge-file", "-p", "--diff3", *labels, *map(str, files)]
        try:
            result = subprocess.run(command, capture_output=True, check=False)
        except FileNotFoundError:
            raise ScaffoldError("update needs git on PATH to merge files") from None
    # The exit code is the number of conflicts (at most 127); higher means an error.
    if not 0 <= result.returncode <= 127:
        raise ScaffoldError(f"git merge-file failed: {result.stderr.decode().strip()}")
    return result.stdout, result.returncode


def marker_lines(data: bytes) -> set[bytes]:
    return {line for line in data.splitlines() if line.startswith(MARKERS)}


def refuse_unresolved(
    root: Path, base: dict[str, bytes], theirs: dict[str, bytes]
) -> None:
    """Refuse to merge into files that still hold conflict blocks from an earlier update."""
    unresolved = []
    for path in sorted(base.keys() | theirs.keys()):
        file = root / path
        if file.is_symlink() or not file.is_file():
            continue
        # Marker-like lines that the tool itself generated are not conflicts.
        if marker_lines(file.read_bytes()) - marker_lines(base.get(path, b"")):
            unresolved.append(path)
    if unresolved:
        more = f" and {len(unresolved) - 3} more" if len(unresolved) > 3 else ""
        raise UnresolvedConflicts(
            f"conflict markers from an earlier update remain in "
            f"{', '.join(unresolved[:3])}{more}; resolve them, then run update again"
        )


def unified_diff(plan: Plan) -> str:
    """What `apply` would change in the user's files, as one unified diff."""
    chunks = []
    for change in plan.changes:
        if not change.touches_disk:
            continue
        lines = difflib.unified_diff(
            decode_lines(change.before),
            decode_lines(change.after),
            fromfile="/dev/null" if change.before is None else f"a/{change.path}",
            tofile="/dev/null" if change.after is None else f"b/{change.target}",
        )
        for line in lines:
            chunks.append(
                line
                if line.endswith("\n")
                else line + "\n\\ No newline at end of file\n"
            )
    return "".join(chunks)


def decode_lines(data: bytes | None) -> list[str]:
    return (
        []
        if data is None
        else data.decode("utf-8", "replace").splitlines(keepends=True)
    )


def apply(plan: Plan) -> None:
    """Write the plan: every file, then the new base, then the record; all or nothing."""

    def stage(transaction: Transaction) -> None:
        for change in plan.changes:
            if change.touches_disk:
                transaction.stage(change.target, change.after, change.mode)
            if change.moved:
                transaction.stage(change.path, None)
        transaction.stage_tree(BASE_DIR, plan.base)
        transaction.stage(RECORD_FILE, plan.record.to_json().encode())

    write_all(
        plan.root,
        plan.root / SCRATCH_PARENT,
        SCRATCH_PREFIX,
        stage,
        "update",
        UpdateFailed,
    )


def recover_interrupted(root: Path) -> str:
    """Undo and delete what killed updates left in root; one line saying so, or ""."""
    folders = leftovers(root / SCRATCH_PARENT, SCRATCH_PREFIX)
    if not folders:
        return ""
    restored = [recover(folder) for folder in folders]
    names = ", ".join(f"{SCRATCH_PARENT}/{folder.name}" for folder in folders)
    if any(restored):
        return (
            f"an earlier update was interrupted midway: put its files back as they "
            f"were before it and removed {names}"
        )
    return f"removed {names}, left by an interrupted update that had changed nothing"


def refuse_interrupted(root: Path) -> None:
    """Refuse to plan over files that a killed update left half-swapped."""
    for folder in leftovers(root / SCRATCH_PARENT, SCRATCH_PREFIX):
        if is_half_done(folder):
            lock = take_lock(folder)  # Busy while that update is still running
            if lock is not None:
                os.close(lock)
            raise ScaffoldError(
                f"an update of {root} was interrupted midway and left some files "
                f"swapped; run `scaffold update {root}` to put them back first"
            )
