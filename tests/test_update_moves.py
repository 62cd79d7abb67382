"""Files the templates moved between releases: `update` carries the user's version
of each to its new path (merged with the template's changes), removes the old one
and says so; a move it cannot make safely leaves the user's files where they are.

The project is tests/fixtures/flat_layout/digits: written by the last release with
every module at the package's top, then edited (see test_update_from_release.py).
"""

from __future__ import annotations

import difflib
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.render import render

from .conftest import REPO

runner = CliRunner()
FIXTURE = REPO / "tests/fixtures/flat_layout/digits"
ENGINE, NEW_ENGINE = "digits/engine.py", "digits/engine/engine.py"
SUPERVISED, NEW_SUPERVISED = "digits/supervised.py", "digits/engine/supervised.py"


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "digits"
    shutil.copytree(FIXTURE, root)
    return root


def section(output: str, action: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{action}: "))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


def test_an_unedited_moved_file_lands_at_its_new_path_as_rendered(project):
    result = runner.invoke(app, ["update", str(project)])

    assert f"{SUPERVISED} -> {NEW_SUPERVISED}" in section(result.stdout, "moved")
    assert not (project / SUPERVISED).exists()
    expected = render(Options(name="digits"))[NEW_SUPERVISED]
    assert (project / NEW_SUPERVISED).read_text() == expected


def test_an_edited_moved_file_keeps_the_edit_at_its_new_path(project):
    mine = "def iterations_left(engine):"
    assert mine in (project / ENGINE).read_text()

    result = runner.invoke(app, ["update", str(project)])

    assert f"{ENGINE} -> {NEW_ENGINE}" in section(result.stdout, "moved")
    assert mine in (project / NEW_ENGINE).read_text()
    assert not (project / ENGINE).exists()


def test_a_moved_file_the_user_deleted_stays_deleted(project):
    (project / SUPERVISED).unlink()

    result = runner.invoke(app, ["update", str(project)])

    assert f"{SUPERVISED} -> {NEW_SUPERVISED}" in section(result.stdout, "deleted")
    assert not (project / SUPERVISED).exists()
    assert not (project / NEW_SUPERVISED).exists()


def test_a_moved_file_keeps_its_crlf_line_endings(project):
    text = (project / ENGINE).read_bytes()
    (project / ENGINE).write_bytes(text.replace(b"\n", b"\r\n"))

    runner.invoke(app, ["update", str(project)])

    moved = (project / NEW_ENGINE).read_bytes()
    assert moved.count(b"\r\n") == moved.count(b"\n") > 0


def test_a_file_already_at_the_new_path_is_not_overwritten_by_the_move(project):
    (project / NEW_ENGINE).parent.mkdir()
    (project / NEW_ENGINE).write_text("# mine, before the templates put one here\n")

    result = runner.invoke(app, ["update", str(project)])

    # No move: the new path merges against nothing, the old file is the user's.
    assert NEW_ENGINE in section(result.stdout, "conflicted")
    assert (
        "# mine, before the templates put one here"
        in (project / NEW_ENGINE).read_text()
    )
    assert ENGINE in section(result.stdout, "kept")
    assert (project / ENGINE).is_file()


def test_diff_shows_a_move_from_the_old_path_to_the_new(project):
    result = runner.invoke(app, ["diff", str(project)])

    assert result.exit_code == 0, result.output
    assert f"--- a/{ENGINE}\n+++ b/{NEW_ENGINE}\n" in result.stdout
    assert not (project / NEW_ENGINE).exists()


def edit_where_the_move_changes(project: Path, old: str, new: str) -> None:
    """Rewrite the lines around the templates' first change to the moved file, in
    the user's copy at the old path."""
    base = (project / ".scaffold/base" / old).read_text().splitlines(keepends=True)
    theirs = render(Options(name="digits"))[new].splitlines(keepends=True)
    opcodes = difflib.SequenceMatcher(a=base, b=theirs).get_opcodes()
    _, start, end, _, _ = next(op for op in opcodes if op[0] != "equal")
    mine = [*base[: max(start - 1, 0)], "# my own lines\n", *base[end + 1 :]]
    (project / old).write_text("".join(mine))


def test_a_moved_file_whose_edit_overlaps_the_template_change_conflicts(project):
    edit_where_the_move_changes(project, ENGINE, NEW_ENGINE)

    result = runner.invoke(app, ["update", str(project)])

    assert f"{ENGINE} -> {NEW_ENGINE}" in section(result.stdout, "conflicted")
    assert result.stderr == (
        # net.py: the user's wider Net on the signature line that took --width;
        # config.py: the user's --epochs default beside the flag's, now gone.
        f"error: conflicts in 4 files: {NEW_ENGINE}, digits/data/loaders.py, "
        "digits/model/net.py, digits/config.py; edit each block between <<<<<<< and "
        ">>>>>>> to the code you want\n"
    )
    assert "<<<<<<< your version" in (project / NEW_ENGINE).read_text()
    assert not (project / ENGINE).exists()


def test_an_executable_moved_file_keeps_its_mode(project):
    (project / SUPERVISED).chmod(0o754)

    runner.invoke(app, ["update", str(project)])

    assert stat.S_IMODE((project / NEW_SUPERVISED).stat().st_mode) == 0o754


def test_a_moved_file_that_is_not_text_stays_and_the_new_one_is_written(project):
    mine = (project / SUPERVISED).read_text().encode("latin-1") + b"# d\xe9j\xe0\n"
    (project / SUPERVISED).write_bytes(mine)

    result = runner.invoke(app, ["update", str(project)])

    assert section(result.stdout, "skipped") == [f"{SUPERVISED} -> {NEW_SUPERVISED}"]
    assert (project / SUPERVISED).read_bytes() == mine
    expected = render(Options(name="digits"))[NEW_SUPERVISED]
    assert (project / NEW_SUPERVISED).read_text() == expected
