"""Text that is not UTF-8, through `update`: the README's promise is that a file
that is not text (not UTF-8, or holding a NUL byte) is left alone, byte for byte,
with the new version beside it as FILE.new, and that UTF-8 text, with or without a
byte order mark, is merged like any other, its characters intact."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import create
from scaffold.render import render

PACKAGE = "mytrainer"
EDITED = f"{PACKAGE}/evaluation.py"  # a file that adding topk changes
CHANGE = ["--metrics", "accuracy,nll,topk"]
NOTE = "\n# Réglé à la main : ne pas écraser.\n"  # the user's edit, not ASCII
UTF8_BOM = b"\xef\xbb\xbf"

runner = CliRunner()


@pytest.fixture(scope="module")
def renders() -> tuple[bytes, bytes]:
    """EDITED as the project is generated, and as the update renders it."""
    before = render(Options(PACKAGE))[EDITED].encode()
    after = render(Options(PACKAGE, metrics=("accuracy", "nll", "topk")))[EDITED]
    assert after.encode() != before
    return before, after.encode()


def project_with(tmp_path: Path, data: bytes) -> Path:
    root = create(Options(PACKAGE), tmp_path)
    (root / EDITED).write_bytes(data)
    return root


def section(stdout: str, action: str) -> list[str]:
    """The files the update's report lists under an action."""
    lines = iter(stdout.splitlines())
    if not any(line.startswith(f"{action}:") for line in lines):
        return []
    listed = []
    for line in lines:  # the lines after the heading
        if not line.startswith("  "):
            break
        listed.append(line.strip())
    return listed


NOT_TEXT = {
    "latin-1": lambda text: (text + NOTE).encode("latin-1"),
    "utf-16-with-bom": lambda text: (text + NOTE).encode("utf-16"),
    # ASCII in UTF-16 without a mark is valid UTF-8: only its NUL bytes tell.
    "utf-16-ascii-without-bom": lambda text: (text + "# mine\n").encode("utf-16-le"),
    "binary-without-nul": lambda text: bytes(range(1, 256)) * 8,
}


@pytest.mark.parametrize("encode", NOT_TEXT.values(), ids=NOT_TEXT.keys())
def test_a_file_that_is_not_utf8_is_left_alone_with_the_new_version_beside(
    tmp_path, renders, encode
):
    before, after = renders
    mine = encode(before.decode())
    assert b"\0" in mine or not mine.isascii()
    root = project_with(tmp_path, mine)

    shown = runner.invoke(app, ["diff", str(root), *CHANGE])
    assert shown.exit_code == 0, shown.output
    assert f"+++ b/{EDITED}.new\n" in shown.stdout
    assert f"b/{EDITED}\n" not in shown.stdout

    result = runner.invoke(app, ["update", str(root), *CHANGE])

    assert result.exit_code == 0, result.output
    assert section(result.stdout, "skipped") == [f"{EDITED} -> {EDITED}.new"]
    assert (root / EDITED).read_bytes() == mine
    assert (root / f"{EDITED}.new").read_bytes() == after
    checked = runner.invoke(app, ["check", str(root)])
    assert checked.exit_code == 0, checked.output


def test_utf8_with_a_byte_order_mark_is_merged_with_its_mark_and_characters(
    tmp_path, renders
):
    before, after = renders
    root = project_with(tmp_path, UTF8_BOM + before + NOTE.encode())

    result = runner.invoke(app, ["update", str(root), *CHANGE])

    assert result.exit_code == 0, result.output
    assert section(result.stdout, "merged") == [EDITED]
    assert (root / EDITED).read_bytes() == UTF8_BOM + after + NOTE.encode()
    assert not (root / f"{EDITED}.new").exists()
    checked = runner.invoke(app, ["check", str(root)])
    assert checked.exit_code == 0, checked.output


def test_diff_marks_a_file_that_ends_without_a_newline(tmp_path):
    exports = f"{PACKAGE}/metrics/__init__.py"  # topk changes its last lines
    root = create(Options(PACKAGE), tmp_path)
    mine = (root / exports).read_text().rstrip("\n")
    (root / exports).write_text(mine)

    shown = runner.invoke(app, ["diff", str(root), *CHANGE])

    assert shown.exit_code == 0, shown.output
    last = mine.splitlines()[-1]
    assert f"-{last}\n\\ No newline at end of file\n" in shown.stdout


def test_the_new_version_goes_beside_under_the_first_free_name(tmp_path, renders):
    before, after = renders
    root = project_with(tmp_path, (before.decode() + NOTE).encode("latin-1"))
    (root / f"{EDITED}.new").write_text("an earlier new version, kept\n")

    result = runner.invoke(app, ["update", str(root), *CHANGE])

    assert section(result.stdout, "skipped") == [f"{EDITED} -> {EDITED}.new2"]
    assert (root / f"{EDITED}.new").read_text() == "an earlier new version, kept\n"
    assert (root / f"{EDITED}.new2").read_bytes() == after


@pytest.mark.parametrize("mode", [0o644, 0o755, 0o600])
def test_a_merged_file_keeps_its_permission_bits(tmp_path, renders, mode):
    before, _ = renders
    root = project_with(tmp_path, before + NOTE.encode())
    (root / EDITED).chmod(mode)

    result = runner.invoke(app, ["update", str(root), *CHANGE])

    assert section(result.stdout, "merged") == [EDITED]
    assert stat.S_IMODE((root / EDITED).stat().st_mode) == mode
