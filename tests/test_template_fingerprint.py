"""What counts as a template: the fingerprint recorded in each project covers the
files of templates/, not the caches that tools leave there (Python's __pycache__,
ruff's, pytest's and mypy's cache folders), so running a tool over the templates
never makes `check` report every project as behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scaffold.options import Options
from scaffold.project import create, read_record
from scaffold.render import fingerprint, templates_dir
from scaffold.update import plan_update


@pytest.fixture
def templates(tmp_path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    return copy


def leave_tool_caches(templates: Path) -> None:
    """Run the tools that leave caches beside what they read, and plant the caches
    of those too slow to run here the way they lay them out."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(templates / "package")],
        check=True,
    )
    ruff = shutil.which("ruff")
    if ruff:  # ruff writes .ruff_cache in the folder it runs in
        subprocess.run(
            [ruff, "check", "--isolated", "-q", "."], cwd=templates, check=False
        )
    else:
        (templates / ".ruff_cache/0.5.0").mkdir(parents=True)
        (templates / ".ruff_cache/0.5.0/1234").write_bytes(b"\x93cache")
    (templates / ".pytest_cache/v/cache").mkdir(parents=True)
    (templates / ".pytest_cache/v/cache/lastfailed").write_text("{}\n")
    (templates / "package/.mypy_cache/3.10").mkdir(parents=True)
    (templates / "package/.mypy_cache/3.10/errors.meta.json").write_text("{}")


def test_tool_caches_in_the_templates_leave_the_fingerprint_and_check_alone(
    templates, tmp_path
):
    root = create(Options("mytrainer"), tmp_path / "out", templates=templates)
    recorded = read_record(root).templates_fingerprint
    assert recorded == fingerprint(templates)

    leave_tool_caches(templates)
    assert list(templates.rglob("__pycache__/*.pyc")), "compileall wrote no cache"
    assert (templates / ".ruff_cache").is_dir()

    assert fingerprint(templates) == recorded
    plan = plan_update(root, templates=templates)
    assert plan.up_to_date, plan.summary()


def test_a_new_or_changed_template_file_changes_the_fingerprint(templates):
    before = fingerprint(templates)
    (templates / "package/notes.txt").write_text("a new template file\n")
    added = fingerprint(templates)
    errors = templates / "package/errors.py"
    errors.write_text(errors.read_text() + "\n")
    assert len({before, added, fingerprint(templates)}) == 3
