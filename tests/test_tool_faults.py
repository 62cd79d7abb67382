"""Faults while writing: a full disk at every write, Ctrl-C, and a process killed
midway. After each, the project holds either its old files or its new ones, byte
for byte, never a mix, and nothing of the tool's scratch is left behind."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import scaffold.project
import scaffold.transaction
import scaffold.update
from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import create
from scaffold.render import render
from scaffold.transaction import JOURNAL, Transaction, is_half_done, take_lock
from scaffold.update import apply, plan_update

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "mytrainer"
CHANGE = ["--metrics", "accuracy,nll,topk", "--checkpoint"]  # adds and edits files
FULL = OSError(errno.ENOSPC, "No space left on device")

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def render_once():
    """Render is pure: memoize it, so the many runs below stay fast."""
    cache = {}

    def cached(options, root=None):
        if (options, root) not in cache:
            cache[options, root] = render(options, root)
        return dict(cache[options, root])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scaffold.project, "render", cached)
        patch.setattr(scaffold.update, "render", cached)
        yield


# A few files of the real render, in nested folders: enough for `new` to stage,
# swap in and undo each kind of entry, few enough to fail at every write fast.
FEW = [
    "README.md",
    f"{PACKAGE}/model/net.py",
    f"{PACKAGE}/metrics/loss.py",
    "tests/conftest.py",
]


@pytest.fixture
def few_files(monkeypatch):
    full = scaffold.project.render
    monkeypatch.setattr(
        scaffold.project,
        "render",
        lambda options, root=None: {p: full(options, root)[p] for p in FEW},
    )


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under root: its bytes (None for a folder) and permission bits."""
    tree = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder, name)
            info = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
            tree[path.relative_to(root).as_posix()] = (data, stat.S_IMODE(info.st_mode))
    return tree


def fail_at(monkeypatch, calls: list[int], n: int, error: BaseException) -> None:
    """Make the n-th call, counted over all the writing functions, raise error."""
    for owner, name in WRITES:
        real = getattr(owner, name)

        def wrapper(*args, _real=real, **kwargs):
            calls[0] += 1
            if calls[0] == n:
                raise error
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)


# Every call that writes: file contents, folders, renames, journal lines.
WRITES = [(Path, "write_bytes"), (Path, "mkdir"), (os, "replace"), (os, "write")]


def count_writes(monkeypatch, action) -> int:
    calls = [0]
    with monkeypatch.context() as patch:
        fail_at(patch, calls, 0, FULL)
        action()
    return calls[0]


def output_folder(out: Path, force: bool) -> Path:
    """An output folder; for --force, with a non-scaffold project folder in it."""
    out.mkdir()
    if force:
        (out / PACKAGE / PACKAGE / "model").mkdir(parents=True)
        (out / PACKAGE / "notes.txt").write_text("mine")
        (out / PACKAGE / "README.md").write_text("my readme, overwritten by --force")
        (out / PACKAGE / PACKAGE / "model" / "net.py").write_text("mine too")
    return out


@pytest.mark.parametrize("force", [False, True], ids=["new", "force-into-folder"])
def test_new_fails_at_every_write_and_leaves_the_folder_as_it_was(
    tmp_path, monkeypatch, few_files, force
):
    """A full disk at any write: one line, exit 1, the output folder unchanged
    (with --force, a non-empty folder keeps its files byte for byte)."""
    flags = ["--force"] if force else []
    runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path / "warm")])  # caches
    counted = output_folder(tmp_path / "count", force)
    writes = count_writes(
        monkeypatch,
        lambda: runner.invoke(app, ["new", PACKAGE, "-o", str(counted), *flags]),
    )
    assert (counted / PACKAGE / ".scaffold.json").is_file()
    assert writes > 15
    out = output_folder(tmp_path / "out", force)
    before = snapshot(out)

    for n in range(1, writes + 1):
        with monkeypatch.context() as patch:
            fail_at(patch, [0], n, FULL)
            result = runner.invoke(app, ["new", PACKAGE, "-o", str(out), *flags])
        assert result.exit_code == 1, (n, result.output)
        assert result.stderr == (
            f"error: writing {out / PACKAGE} failed ([Errno 28] No space left on "
            "device); nothing was changed\n"
        ), n
        assert snapshot(out) == before, n


def test_ctrl_c_during_new_writes_nothing(tmp_path, monkeypatch, few_files):
    """Ctrl-C at any write (staging or swapping in): exit 130, nothing written."""
    runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path / "warm")])  # caches
    writes = count_writes(
        monkeypatch,
        lambda: runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path / "count")]),
    )
    for n in range(1, writes + 1):
        with monkeypatch.context() as patch:
            fail_at(patch, [0], n, KeyboardInterrupt())
            result = runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path / "out")])
        assert result.exit_code == 130, (n, result.output)
        assert result.stderr == "error: interrupted; nothing was changed\n"
        assert not (tmp_path / "out").exists(), n


def test_new_into_missing_folders_fails_at_every_write_and_creates_none(
    tmp_path, monkeypatch, few_files
):
    runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path / "warm")])  # caches
    out = tmp_path / "a" / "b"
    writes = count_writes(
        monkeypatch, lambda: runner.invoke(app, ["new", PACKAGE, "-o", str(out)])
    )
    for folder in (out / PACKAGE, out, out.parent):
        shutil.rmtree(folder)
    before = snapshot(tmp_path)

    for n in range(1, writes + 1):
        with monkeypatch.context() as patch:
            fail_at(patch, [0], n, FULL)
            result = runner.invoke(app, ["new", PACKAGE, "-o", str(out)])
        assert result.exit_code == 1, (n, result.output)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "No space left on device" in result.stderr, n
        assert snapshot(tmp_path) == before, n


# A killed process: simulated in this process (the exception stands for the kill:
# no undo, no cleanup), at every rename; then with real signals on a subprocess.


class Killed(BaseException):
    pass


def kill_at(monkeypatch, n: int) -> list[int]:
    """Make step n of the swap 'kill' the process: nothing after it runs. The
    steps are the renames and, last, deleting the journal (the commit point).
    Returns the step count so far."""
    steps = [0]
    real_replace, real_unlink = os.replace, os.unlink

    def step(real):
        def wrapper(*args, **kwargs):
            if real is real_unlink and not str(args[0]).endswith(JOURNAL):
                return real(*args, **kwargs)
            steps[0] += 1
            if steps[0] == n:
                raise Killed
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(os, "replace", step(real_replace))
    monkeypatch.setattr(os, "unlink", step(real_unlink))

    def release_only(self) -> None:  # a dead process's locks go, its files stay
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None

    monkeypatch.setattr(Transaction, "roll_back", lambda self, error: None)
    monkeypatch.setattr(Transaction, "discard", release_only)
    return steps


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A new project, and the same project after `update` with CHANGE."""
    tmp = tmp_path_factory.mktemp("pristine")
    old = create(Options(PACKAGE), tmp / "old")
    new = create(Options(PACKAGE), tmp / "new")
    assert runner.invoke(app, ["update", str(new), *CHANGE]).exit_code == 0
    return snapshot(old), snapshot(new)


def copy_of(tree: dict, root: Path) -> Path:
    for path, (data, mode) in sorted(tree.items()):
        target = root / path
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        target.chmod(mode)
    return root


def test_update_killed_at_every_rename_is_undone_by_the_next_run(
    pristine, tmp_path, monkeypatch
):
    old, _ = pristine
    plan = plan_update(copy_of(old, tmp_path / "count"), {"metrics": ("topk",)})
    with monkeypatch.context() as patch:
        steps = kill_at(patch, 0)
        apply(plan)
    assert steps[0] > 10

    for n in range(1, steps[0] + 1):
        root = copy_of(old, tmp_path / str(n))
        plan = plan_update(root, {"metrics": ("topk",)})
        with monkeypatch.context() as patch:
            kill_at(patch, n)
            with pytest.raises(Killed):
                apply(plan)
        [leftover] = (root / ".scaffold").glob("update-*")
        assert is_half_done(leftover)

        for command in ("diff", "check"):  # they read, so they refuse a mixed project
            result = runner.invoke(app, [command, str(root)])
            assert result.exit_code == 1
            assert result.stderr == (
                f"error: an update of {root} was interrupted midway and left some "
                f"files swapped; run `scaffold update {root}` to put them back first\n"
            )

        result = runner.invoke(app, ["update", str(root)])
        assert result.exit_code == 0, result.output
        assert result.stdout == (
            "an earlier update was interrupted midway: put its files back as they "
            f"were before it and removed .scaffold/{leftover.name}\n"
            "already up to date\n"
        )
        assert snapshot(root) == old, n


def test_a_file_edited_after_the_kill_is_never_undone_over(pristine, tmp_path):
    old, _ = pristine
    root = copy_of(old, tmp_path / PACKAGE)
    plan = plan_update(root, {"metrics": ("topk",)})
    with pytest.MonkeyPatch.context() as patch:
        kill_at(patch, 4)  # README.md and its backup moved: the new README is in
        with pytest.raises(Killed):
            apply(plan)
    (root / "README.md").write_text("edited since")

    result = runner.invoke(app, ["update", str(root)])

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {root / 'README.md'} was edited after the write that put it there "
        "was interrupted, so that write cannot be undone; move the file aside, then "
        "run this again\n"
    )
    assert (root / "README.md").read_text() == "edited since"
    (root / "README.md").rename(tmp_path / "README.mine")
    result = runner.invoke(app, ["update", str(root)])
    assert result.exit_code == 0, result.output
    assert snapshot(root) == old


def test_update_killed_while_staging_leaves_a_folder_the_next_run_removes(
    pristine, tmp_path
):
    old, _ = pristine
    root = copy_of(old, tmp_path / PACKAGE)
    leftover = root / ".scaffold" / "update-0123abcd"
    (leftover / "new").mkdir(parents=True)
    (leftover / "new" / "0").write_bytes(b"half a fi")
    (leftover / JOURNAL).touch()
    for command in ("diff", "check"):  # harmless: they ignore it
        assert runner.invoke(app, [command, str(root)]).exit_code == 0

    result = runner.invoke(app, ["update", str(root)])

    assert result.exit_code == 0
    assert result.stdout == (
        "removed .scaffold/update-0123abcd, left by an interrupted update that had "
        "changed nothing\nalready up to date\n"
    )
    assert snapshot(root) == old


def test_an_update_in_progress_elsewhere_is_not_taken_for_a_leftover(
    pristine, tmp_path
):
    old, _ = pristine
    root = copy_of(old, tmp_path / PACKAGE)
    running = root / ".scaffold" / "update-0123abcd"
    running.mkdir()
    (running / JOURNAL).write_text('["mkdir", "../../x"]\n')
    lock = take_lock(running)  # as the other process would hold it
    try:
        for command in ("update", "diff"):
            result = runner.invoke(app, [command, str(root)])
            assert result.exit_code == 1
            assert result.stderr.startswith("error: another scaffold process is ")
            assert result.stderr.count("\n") == 1
    finally:
        os.close(lock)
    assert running.is_dir()


def test_new_force_killed_midway_is_undone_by_the_next_new(
    tmp_path, monkeypatch, few_files
):
    out = output_folder(tmp_path / "out", force=True)
    before = snapshot(out / PACKAGE)
    with monkeypatch.context() as patch:
        kill_at(patch, 5)
        with pytest.raises(Killed):
            create(Options(PACKAGE), out, force=True)
    assert snapshot(out / PACKAGE) != before  # half swapped: two files replaced

    result = runner.invoke(app, ["new", PACKAGE, "-o", str(out), "--force"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "an earlier `scaffold new` was interrupted midway: put the files in "
        f"{out / PACKAGE} back as they were before it\ncreated {out / PACKAGE}\n"
    )
    assert (out / PACKAGE / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == [PACKAGE]


def test_new_killed_while_staging_leaves_a_folder_the_next_new_removes(tmp_path):
    leftover = tmp_path / f".{PACKAGE}-0123abcd"
    (leftover / "new" / "0.d").mkdir(parents=True)
    (leftover / JOURNAL).touch()
    (tmp_path / f".{PACKAGE}-deadbeef").mkdir()  # not ours: no journal in it

    result = runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"removed .{PACKAGE}-0123abcd from {tmp_path}, left by an interrupted "
        f"`scaffold new`\ncreated {tmp_path / PACKAGE}\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f".{PACKAGE}-deadbeef",
        PACKAGE,
    ]


# Real signals on a real process. Renames are slowed down (by the harness, not
# the tool) so that a signal sent at a random moment lands mid-swap.

HARNESS = """
import os, sys, time
from pathlib import Path
delay = float(os.environ["SLOW_WRITES"])
real_replace, real_write = os.replace, Path.write_bytes
def replace(*args):
    time.sleep(delay)
    return real_replace(*args)
def write_bytes(self, data):
    time.sleep(delay / 4)
    return real_write(self, data)
os.replace, Path.write_bytes = replace, write_bytes
from scaffold.cli import app
app(prog_name="scaffold")
"""
DELAY = 0.01  # seconds a rename takes; the swap takes about 40 of them


def start_update(root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SLOW_WRITES": str(DELAY)}
    return subprocess.Popen(
        [sys.executable, "-c", HARNESS, "update", str(root), *CHANGE],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def swapping(root: Path) -> bool:
    """Whether the update is moving files into place (its journal has lines)."""
    return any(
        (folder / JOURNAL).is_file() and (folder / JOURNAL).stat().st_size > 0
        for folder in (root / ".scaffold").glob("update-*")
    )


def staging(root: Path) -> bool:
    return any((root / ".scaffold").glob("update-*"))


def signal_at(root: Path, process: subprocess.Popen, signum, attempt: int, rng):
    """Send a signal at a random moment: while staging every third attempt, else
    while swapping the files in."""
    phase, window = (staging, 0.05) if attempt % 3 == 0 else (swapping, 25 * DELAY)
    deadline = time.monotonic() + 30
    while not phase(root):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"the update never reached {phase}"
        time.sleep(0.001)
    time.sleep(rng.uniform(0, window))
    process.send_signal(signum)


def test_sigkill_at_random_moments_leaves_old_or_new_files_never_a_mix(
    pristine, tmp_path
):
    old, new = pristine
    rng = random.Random(20261201)
    half_done = []
    for attempt in range(6):
        root = copy_of(old, tmp_path / str(attempt))
        process = start_update(root)
        signal_at(root, process, signal.SIGKILL, attempt, rng)
        process.communicate()
        leftovers = list((root / ".scaffold").glob("update-*"))
        half_done.append(any(is_half_done(folder) for folder in leftovers))

        result = runner.invoke(app, ["update", str(root)])  # the next run

        assert result.exit_code == 0, result.output
        assert result.stdout.endswith("already up to date\n")
        assert (result.stdout.count("\n") == 2) == bool(leftovers), result.stdout
        assert snapshot(root) in (old, new), attempt
    assert sum(half_done) >= 2, "too few kills landed mid-swap"


@pytest.mark.usefixtures("take_ctrl_c")
def test_ctrl_c_at_random_moments_exits_130_and_changes_nothing(pristine, tmp_path):
    old, new = pristine
    rng = random.Random(7)
    interrupted = 0
    for attempt in range(4):
        root = copy_of(old, tmp_path / str(attempt))
        process = start_update(root)
        signal_at(root, process, signal.SIGINT, attempt, rng)
        stdout, stderr = process.communicate()
        if process.returncode == 130:
            interrupted += 1
            assert stderr == "error: interrupted; nothing was changed\n"
            assert stdout == ""
            assert snapshot(root) == old, attempt
        else:  # the signal came after the update had finished
            assert process.returncode == 0, stderr
            assert snapshot(root) == new, attempt
    assert interrupted >= 2


# Faults inside the journal's own writes: the process killed, or the disk full,
# with the journal cut inside every line (in its middle, where it is not yet JSON,
# and before its newline, where it is) and after it, before the step it records.


def journal_of(plan_root: Path, monkeypatch) -> bytes:
    """The journal that a whole update of plan_root writes, read at its commit."""
    journal = []
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if str(path).endswith(JOURNAL):
            journal.append(Path(path).read_bytes())
        return real_unlink(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "unlink", unlink)
        apply(plan_update(plan_root, {"metrics": ("topk",)}))
    [data] = journal
    return data


def cuts(journal: bytes) -> list[int]:
    """Journal lengths to stop at: none, and in each line its middle, all but its
    newline, and its end."""
    ends = [n + 1 for n, byte in enumerate(journal) if byte == ord("\n")]
    points = {0}
    for start, end in zip([0, *ends], ends, strict=False):
        points |= {(start + end) // 2, end - 1, end}
    return sorted(points)


def kill_in_journal(monkeypatch, length: int) -> None:
    """'Kill' the process (Killed, no undo, no cleanup) once the journal holds
    `length` bytes: a write that would pass it writes only up to it."""
    kill_at(monkeypatch, -1)  # a dead process neither undoes nor cleans up
    held = [0]
    real_write = os.write

    def write(fd, data):
        if not os.readlink(f"/proc/self/fd/{fd}").endswith(JOURNAL):
            return real_write(fd, data)
        room = length - held[0]
        held[0] += real_write(fd, data[:room])
        if held[0] >= length:
            raise Killed
        return len(data)

    monkeypatch.setattr(os, "write", write)


needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="names open files through /proc"
)


def assert_next_run_restores(root: Path, old: dict) -> str:
    """The next update puts the old files back, and check then works."""
    result = runner.invoke(app, ["update", str(root)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("already up to date\n")
    assert snapshot(root) == old
    result = runner.invoke(app, ["check", str(root)])
    assert result.exit_code == 0, result.output
    return result.stdout


@needs_proc
@pytest.mark.slow
def test_update_killed_inside_every_journal_line_is_undone_by_the_next_run(
    pristine, tmp_path, monkeypatch
):
    old, _ = pristine
    journal = journal_of(copy_of(old, tmp_path / "whole"), monkeypatch)
    assert journal.count(b"\n") > 10

    for length in cuts(journal):
        root = copy_of(old, tmp_path / str(length))
        plan = plan_update(root, {"metrics": ("topk",)})
        with monkeypatch.context() as patch:
            kill_in_journal(patch, length)
            with pytest.raises(Killed):
                apply(plan)
        [leftover] = (root / ".scaffold").glob("update-*")
        assert (leftover / JOURNAL).read_bytes() == journal[:length]
        assert_next_run_restores(root, old)


# A full disk, made real: RLIMIT_FSIZE caps the size of every file the process
# writes, so the journal's write that reaches the cap writes only part of its line
# (a short count) and the next one fails (EFBIG). Set once the files are staged,
# it stops the journal alone. Each try runs in a child process (fork), which either
# undoes the update itself or is killed while undoing it.
FAILED, KILLED_WHILE_UNDOING = 3, 4


def update_on_a_full_disk(plan, length: int, killed_while_undoing: bool) -> int:
    """Fork; in the child, apply the plan with the journal capped at length bytes.
    Returns the child's exit status."""
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    status = 1
    try:
        import resource

        real_commit = Transaction.commit

        def commit(self):
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (length, hard))
            real_commit(self)

        def killed(self, error):
            os._exit(KILLED_WHILE_UNDOING)

        Transaction.commit = commit
        if killed_while_undoing:
            Transaction.roll_back = killed
        try:
            apply(plan)
            status = 0
        except scaffold.update.UpdateFailed as error:
            assert "nothing was changed" in str(error), error
            status = FAILED
    finally:
        os._exit(status)


@needs_proc
@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks")
def test_a_full_disk_inside_every_journal_line_is_undone(
    pristine, tmp_path, monkeypatch
):
    old, _ = pristine
    journal = journal_of(copy_of(old, tmp_path / "whole"), monkeypatch)
    short = [n for n in cuts(journal) if n and journal[n - 1] != ord("\n")]

    for length in cuts(journal):
        root = copy_of(old, tmp_path / str(length))
        plan = plan_update(root, {"metrics": ("topk",)})
        status = update_on_a_full_disk(plan, length, killed_while_undoing=True)
        if length == len(journal):  # room for the whole journal: the update is in
            assert status == 0
            assert not list((root / ".scaffold").glob("update-*"))
            continue
        assert status == KILLED_WHILE_UNDOING, length
        assert_next_run_restores(root, old)
        if length in short:  # a write cut short, then undone in the same process
            root = copy_of(old, tmp_path / f"{length}-undone")
            plan = plan_update(root, {"metrics": ("topk",)})
            status = update_on_a_full_disk(plan, length, killed_while_undoing=False)
            assert status == FAILED, length
            assert snapshot(root) == old, length


# A removal that empties its folder: the swap removes the folder too, and undoing
# it puts the folder back before the file.


def stage_a_removal_then_a_file(root: Path) -> Transaction:
    (root / "a/b").mkdir(parents=True)
    (root / "a/b/only.txt").write_text("mine\n")
    transaction = Transaction(root, root, ".t-")
    transaction.stage("a/b/only.txt", None)
    transaction.stage("c.txt", b"new\n")
    return transaction


def test_a_removal_that_emptied_its_folders_is_undone_folders_first(tmp_path):
    transaction = stage_a_removal_then_a_file(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        fail_at(patch, [0], 2, FULL)  # the second rename: c.txt into place
        with pytest.raises(OSError):
            transaction.commit()
    transaction.discard()
    assert (tmp_path / "a/b/only.txt").read_text() == "mine\n"
    assert not (tmp_path / "c.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_a_killed_removal_that_emptied_its_folders_is_undone_by_recover(tmp_path):
    transaction = stage_a_removal_then_a_file(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        kill_at(patch, 2)
        with pytest.raises(Killed):
            transaction.commit()
        transaction.discard()  # as a dead process: its lock goes, its files stay
    assert not (tmp_path / "a").exists()  # the kill came after the folders went
    scaffold.transaction.recover(transaction.scratch)
    assert (tmp_path / "a/b/only.txt").read_text() == "mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_an_undo_that_fails_too_keeps_the_originals_and_says_where(tmp_path):
    transaction = stage_a_removal_then_a_file(tmp_path)
    real_replace = os.replace
    calls = [0]

    def replace(*args):  # the first rename works; every later one fails
        calls[0] += 1
        if calls[0] > 1:
            raise FULL
        return real_replace(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", replace)
        with pytest.raises(scaffold.transaction.WriteFailed) as failed:
            transaction.commit()
    transaction.discard()
    assert str(failed.value).endswith(
        f"your original files are kept in {transaction.scratch}"
    )
    assert (transaction.scratch / "old/0").read_text() == "mine\n"
