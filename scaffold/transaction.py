"""All-or-nothing writes: stage every file aside, swap them in, undo on any failure.

A Transaction writes the new files into a private scratch folder first, so a
failure while staging (a full disk, Ctrl-C) changes nothing. Only then does it
move each file into place, moving the one it replaces into the scratch folder.
Each move is written to a journal before it is made, so the swap can be undone
    in the same process, after any exception (`Transaction.commit`), and
    by the next run, after the process was killed midway (`recover`).
Deleting the journal is the commit point: a scratch folder without a journal is
only waste, whatever it holds.

Journal paths are relative to the scratch folder, so a project moved or renamed
after a crash still recovers. Scratch folders are named PREFIX + 8 hex digits.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from scaffold.errors import Busy, WriteFailed

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so concurrent runs are not caught
    fcntl = None

JOURNAL = "scaffold-journal"
SUFFIX_LENGTH = 8  # hex digits after a scratch folder's prefix

# One journal line: ["move", source, destination, sha256 of the file or null],
# ["mkdir", folder] or ["rmdir", folder].
Op = list


def write_all(
    root: Path,
    scratch_parent: Path,
    prefix: str,
    stage: Callable[[Transaction], None],
    what: str,
    error: type[WriteFailed] = WriteFailed,
) -> None:
    """Stage files with `stage(transaction)`, then swap them all in, or none.

    An OSError (a full disk, a permission) is raised as `error`, saying that
    nothing was changed; any other exception (Ctrl-C) goes on once the swap is
    undone. The scratch folder is made in scratch_parent, on root's file system.
    """
    try:
        transaction = Transaction(root, scratch_parent, prefix, what, error)
    except OSError as exc:
        raise error(f"{what} failed ({exc}); nothing was changed") from exc
    try:
        stage(transaction)
        transaction.commit()
    except OSError as exc:
        raise error(f"{what} failed ({exc}); nothing was changed") from exc
    finally:
        transaction.discard()


class Transaction:
    """Files staged in a scratch folder, then moved into root together.

    stage/stage_tree name each target relative to root ("" is root itself);
    commit moves them in, in staging order, or undoes every move and re-raises.
    """

    def __init__(
        self,
        root: Path,
        scratch_parent: Path,
        prefix: str,
        what: str = "writing",
        error: type[WriteFailed] = WriteFailed,
    ) -> None:
        self.root = root
        self.what, self.error = what, error
        self.scratch = make_scratch(scratch_parent, prefix)
        self.lock: int | None = None
        self.journal: int | None = None
        self.keep_scratch = False
        # (target, staged path or None to remove the target, sha256 of a staged file)
        self.entries: list[tuple[str, Path | None, str | None]] = []
        self.done: list[Op] = []  # journalled operations, in order
        try:
            self.lock = take_lock(self.scratch)
            (self.scratch / JOURNAL).touch()  # marks the folder as a transaction's
        except BaseException:
            self.discard()
            raise

    def stage(self, target: str, data: bytes | None, mode: int | None = None) -> None:
        """Stage data for root/target (None: remove it); mode: its permission bits."""
        staged = None
        if data is not None:
            staged = self.scratch / "new" / str(len(self.entries))
            staged.parent.mkdir(exist_ok=True)
            # Written like any new file, so it gets the mode the umask gives.
            staged.write_bytes(data)
            if mode is not None:
                os.chmod(staged, mode)
        digest = None if data is None else hashlib.sha256(data).hexdigest()
        self.entries.append((target, staged, digest))

    def stage_tree(self, target: str, files: dict[str, bytes]) -> None:
        """Stage a whole folder, swapped in as one rename."""
        folder = self.scratch / "new" / f"{len(self.entries)}.d"
        folder.mkdir(parents=True)
        for path, data in files.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        self.entries.append((target, folder, None))

    def commit(self) -> None:
        """Move every staged entry into place, keeping what it replaces; all or nothing.

        Ctrl-C is held meanwhile and acted on between two files, by undoing the
        moves, so the project is never left half-swapped by an interrupt.
        """
        with interrupts_held() as held:
            try:
                self.journal = os.open(
                    self.scratch / JOURNAL, os.O_WRONLY | os.O_APPEND
                )
                backups = self.scratch / "old"
                backups.mkdir()
                for n, (target, staged, digest) in enumerate(self.entries):
                    if held.requested:
                        raise KeyboardInterrupt
                    path = self.root / target
                    if os.path.lexists(path):
                        self.move(path, backups / str(n))
                        if staged is None:
                            self.remove_empty_parents(path.parent)
                    if staged is not None:
                        self.make_parents(path.parent)
                        self.move(staged, path, digest)
                if held.requested:
                    raise KeyboardInterrupt
                os.close(self.journal)
                self.journal = None
                os.unlink(self.scratch / JOURNAL)  # the commit point
            except BaseException as error:
                self.roll_back(error)
                raise
            # Still holding Ctrl-C: from here on the update is complete, and an
            # interrupt must not be reported as one that changed nothing.
            self.discard()

    def log(self, op: Op) -> None:
        assert self.journal is not None
        line = (json.dumps(op) + "\n").encode()
        # A nearly full disk takes part of a line without an error: the step it
        # records must then not be made, as the next run could not undo it.
        if os.write(self.journal, line) != len(line):
            raise OSError(errno.ENOSPC, f"the disk took only part of {JOURNAL}'s line")
        self.done.append(op)

    def relative(self, path: Path) -> str:
        return os.path.relpath(path, self.scratch)

    def move(self, source: Path, destination: Path, digest: str | None = None) -> None:
        self.log(["move", self.relative(source), self.relative(destination), digest])
        os.replace(source, destination)

    def make_parents(self, folder: Path) -> None:
        missing = []
        while not os.path.lexists(folder):
            missing.append(folder)
            folder = folder.parent
        for made in reversed(missing):
            self.log(["mkdir", self.relative(made)])
            made.mkdir()

    def remove_empty_parents(self, folder: Path) -> None:
        while folder != self.root and not any(folder.iterdir()):
            self.log(["rmdir", self.relative(folder)])
            folder.rmdir()
            folder = folder.parent

    def roll_back(self, error: BaseException) -> None:
        try:
            if self.journal is not None:
                os.close(self.journal)
                self.journal = None
            undo(self.scratch, self.done)
            os.unlink(self.scratch / JOURNAL)  # undone: the scratch is only waste
        except (OSError, WriteFailed) as undo_error:
            self.keep_scratch = True
            raise self.error(
                f"{self.what} failed ({error}) and undoing it also failed "
                f"({undo_error}); your original files are kept in {self.scratch}"
            ) from error

    def discard(self) -> None:
        """Delete the scratch folder, unless it holds the only copy of a file."""
        if self.journal is not None:
            os.close(self.journal)
            self.journal = None
        if not self.keep_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None


def undo(scratch: Path, ops: list[Op]) -> None:
    """Undo journalled operations in reverse order, skipping any never made.

    Idempotent, so a recovery that is itself interrupted can run again.
    """
    for op in reversed(ops):
        if op[0] == "move":
            source, destination = scratch / op[1], scratch / op[2]
            if not os.path.lexists(destination) or os.path.lexists(source):
                continue  # never made, or already undone
            if op[3] is not None and sha256(destination) != op[3]:
                raise WriteFailed(
                    f"{os.path.normpath(destination)} was edited after the write "
                    "that put it there was interrupted, so that write cannot be "
                    "undone; move the file aside, then run this again"
                )
            os.replace(destination, source)
        elif op[0] == "mkdir":
            with contextlib.suppress(OSError):  # gone, or holds files since
                (scratch / op[1]).rmdir()
        elif op[0] == "rmdir" and not os.path.lexists(scratch / op[1]):
            (scratch / op[1]).mkdir()


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def leftovers(parent: Path, prefix: str) -> list[Path]:
    """Scratch folders in parent that a killed process left behind (or that a
    running one is using: `recover` tells them apart)."""
    pattern = re.compile(re.escape(prefix) + f"[0-9a-f]{{{SUFFIX_LENGTH}}}")
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    return [
        parent / name
        for name in names
        if pattern.fullmatch(name) and (parent / name).is_dir()
    ]


def is_half_done(scratch: Path) -> bool:
    """Whether a scratch folder's transaction had moved files into place."""
    try:
        return bool((scratch / JOURNAL).read_bytes().strip())
    except OSError:
        return False


def recover(scratch: Path) -> bool:
    """Undo what the transaction of a leftover scratch folder had moved in, then
    delete the folder. Returns whether there was anything to undo.

    Raises Busy when the transaction is still running in another process.
    """
    lock = take_lock(scratch)
    try:
        ops = read_journal(scratch / JOURNAL)
        undo(scratch, ops)
        (scratch / JOURNAL).unlink(missing_ok=True)
        shutil.rmtree(scratch)
    finally:
        if lock is not None:
            os.close(lock)
    return bool(ops)


def read_journal(path: Path) -> list[Op]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    # A line cut short by the kill was never acted on: each is written first.
    complete = data[: data.rfind(b"\n") + 1]
    try:
        return [json.loads(line) for line in complete.splitlines()]
    except ValueError as exc:
        raise WriteFailed(f"{path} is unreadable ({exc})") from exc


def make_scratch(parent: Path, prefix: str) -> Path:
    """A new folder PREFIX + 8 hex digits; mkdir, unlike mkdtemp, leaves its mode
    to the umask, like every folder the tool creates."""
    for _ in range(100):
        folder = parent / f"{prefix}{secrets.token_hex(SUFFIX_LENGTH // 2)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"no free scratch folder name in {parent}")


def take_lock(folder: Path) -> int | None:
    """An exclusive lock on folder, held until its descriptor is closed (or the
    process dies). Busy when another process holds it."""
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Busy(
            f"another scaffold process is writing through {folder}; "
            "wait for it to finish, then run this again"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


class Held:
    requested = False  # whether Ctrl-C was pressed while held


_holding: Held | None = None  # the outermost hold in force


@contextlib.contextmanager
def interrupts_held() -> Iterator[Held]:
    """Hold Ctrl-C (SIGINT) for the block: it only sets `held.requested`, which
    the block checks where stopping is safe. A hold inside another shares its
    state, so the outer block learns of a Ctrl-C the inner one did not act on.
    Signals reach only the main thread, so elsewhere this holds nothing."""
    global _holding
    if _holding is not None:
        yield _holding
        return
    held = Held()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous in (signal.SIG_IGN, None):  # ignored, or handled outside Python
        yield held
        return

    def hold(signum, frame) -> None:
        held.requested = True

    signal.signal(signal.SIGINT, hold)
    _holding = held
    try:
        yield held
    finally:
        _holding = None
        signal.signal(signal.SIGINT, previous)
