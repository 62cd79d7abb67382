"""`scaffold update`, `diff` and `check` on the real templates.

An "old version" of the tool is a copy of templates/ with a few edits; a project
generated from it is edited the way a user would, then updated with the real
templates. Each rule of the update is then checked file by file.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import scaffold.project
import scaffold.render
import scaffold.update
from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import BASE_DIR, RECORD_FILE, create, read_record
from scaffold.render import (
    fingerprint,
    manifest,
    output_path,
    render,
    templates_dir,
)
from scaffold.update import UpdateFailed, apply, plan_update

PACKAGE = "mytrainer"
OLD_HEADER = "# Kept for checkpoints written by earlier versions.\n"
OLD_SETTING = "OLD_SETTING = 1"
LEGACY = '"""Helpers the templates no longer ship."""\n\nLEGACY_WIDTH = 32\n'
USER_FUNCTION = "\n\ndef count_parameters(model):\n    return sum(p.numel() for p in model.parameters())\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"

# What each file of the scenario stands for (paths inside the generated project).
MERGED = f"{PACKAGE}/model/net.py"  # user adds a function, template drops its header
CONFLICTED = (
    f"{PACKAGE}/engine/engine.py"  # user and template both change the last line
)
DEFAULT = f"{PACKAGE}/config.py"  # user changes a default value
CRLF = f"{PACKAGE}/engine/supervised.py"  # user changes a line, saves with CRLF
EXECUTABLE = f"{PACKAGE}/data/mnist.py"  # user marks it executable, leaves it unedited
DELETED = f"{PACKAGE}/metrics/loss.py"  # user deletes it, template changes it
BINARY = f"{PACKAGE}/metrics/accuracy.py"  # user replaces it with an image
IDENTICAL = f"{PACKAGE}/metrics/__init__.py"  # user makes the template's own change
CREATED = f"{PACKAGE}/metrics/base.py"  # absent from the old templates
REMOVED = f"{PACKAGE}/legacy.py"  # only in the old templates, unedited
KEPT = f"{PACKAGE}/legacy_edited.py"  # only in the old templates, edited
USER_FILES = {"NOTES.txt": b"ideas\r\n", "assets/logo.png": PNG}

runner = CliRunner()


# The templates an "old version" of the tool shipped that the real ones do not.
LEGACY_TEMPLATES = ["package/legacy.py.jinja", "package/legacy_edited.py.jinja"]


def old_manifest(options: Options) -> list[str]:
    """The manifest of the old version: without CREATED, with the legacy files."""
    created = template_for(templates_dir(), CREATED).relative_to(templates_dir())
    files = [f for f in real_manifest(options) if f != created.as_posix()]
    return sorted([*files, *LEGACY_TEMPLATES])


real_manifest = scaffold.render.manifest


def render_any(options: Options, root: Path | None = None) -> dict[str, str]:
    """render, with the old manifest for a tree made by old_templates."""
    if root is None or root.name != "old-templates":
        return render(options, root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scaffold.render, "manifest", old_manifest)
        return render(options, root)


@pytest.fixture(autouse=True, scope="module")
def render_once():
    """Render is pure, so memoize it per template tree: the tests stay fast."""
    cache = {}

    def cached(options, root=None):
        key = (options, root, fingerprint(root))
        if key not in cache:
            cache[key] = render_any(options, root)
        return dict(cache[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scaffold.project, "render", cached)
        patch.setattr(scaffold.update, "render", cached)
        yield


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every path under root with its bytes (None for a folder) and permission bits."""
    tree = {}
    for folder, folders, files in os.walk(root):
        for name in folders + files:
            path = Path(folder, name)
            info = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(info.st_mode) else None
            tree[path.relative_to(root).as_posix()] = (data, stat.S_IMODE(info.st_mode))
    return tree


def template_for(templates: Path, path: str) -> Path:
    """The template file that renders `path` in the default project."""
    for template in manifest(Options(PACKAGE)):
        if output_path(template, PACKAGE) == path:
            return templates / template
    raise AssertionError(f"no template renders {path}; is templates/ complete?")


def old_templates(tmp: Path) -> Path:
    """A copy of the real templates standing in for an older tool version."""
    old = tmp / "old-templates"
    shutil.copytree(templates_dir(), old, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (MERGED, DEFAULT, CRLF, EXECUTABLE, DELETED, BINARY, IDENTICAL):
        template = template_for(old, path)
        template.write_text(OLD_HEADER + template.read_text())
    template = template_for(old, CONFLICTED)
    template.write_text(template.read_text() + f"\n\n{OLD_SETTING}\n")
    for legacy in LEGACY_TEMPLATES:  # old_manifest adds these and drops CREATED
        (old / legacy).write_text(LEGACY)
    return old


def change_first_default(text: str) -> str:
    """Change the first numeric default (e.g. `default=5`) as a user tuning it would."""
    number = re.search(r"default=(\d+)", text)
    assert number, "expected a numeric default in the text"
    return f"{text[: number.start(1)]}{int(number[1]) + 7}{text[number.end(1) :]}"


def edit_as_user(root: Path) -> dict[str, bytes]:
    """Edit the project generated from the old templates; returns what the user wrote."""
    wrote = {}

    def write(path: str, data: bytes) -> None:
        (root / path).write_bytes(data)
        wrote[path] = data

    write(MERGED, (root / MERGED).read_bytes() + USER_FUNCTION.encode())
    engine = (root / CONFLICTED).read_text()
    assert engine.count(OLD_SETTING) == 1
    write(CONFLICTED, engine.replace(OLD_SETTING, "OLD_SETTING = 2").encode())
    write(DEFAULT, change_first_default((root / DEFAULT).read_text()).encode())
    lines = (root / CRLF).read_text().splitlines(keepends=True)
    middle = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].strip())
    lines[middle] = lines[middle].rstrip("\n") + "  # tuned for our data\n"
    write(CRLF, "".join(lines).replace("\n", "\r\n").encode())
    (root / EXECUTABLE).chmod(0o755)
    (root / DELETED).unlink()
    write(BINARY, PNG)
    write(
        IDENTICAL, (root / IDENTICAL).read_bytes().replace(OLD_HEADER.encode(), b"", 1)
    )
    write(KEPT, (root / KEPT).read_bytes() + b"LEGACY_DEPTH = 4\n")
    for path, data in USER_FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        write(path, data)
    return wrote


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """A project from the old templates with the user's edits, before the update."""
    tmp = tmp_path_factory.mktemp("scenario")
    old = old_templates(tmp)
    root = create(Options(PACKAGE), tmp / "before", templates=old)
    return root, edit_as_user(root)


@pytest.fixture
def project(scenario, tmp_path):
    """A fresh copy of the scenario project, for a test to update or break."""
    root, wrote = scenario
    copy = tmp_path / PACKAGE
    shutil.copytree(root, copy, symlinks=True)
    return copy, wrote


@pytest.fixture(scope="module")
def updated(scenario, tmp_path_factory):
    """The scenario project after `scaffold update`, with the command's result."""
    root, wrote = scenario
    copy = tmp_path_factory.mktemp("updated") / PACKAGE
    shutil.copytree(root, copy, symlinks=True)
    result = runner.invoke(app, ["update", str(copy)])
    return copy, wrote, result


def new_render(options: Options | None = None) -> dict[str, bytes]:
    rendered = scaffold.update.render(options or Options(PACKAGE))
    return {path: text.encode() for path, text in rendered.items()}


def section(output: str, action: str) -> list[str]:
    """The paths the update report lists under one action."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{action}:"))
    paths = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        paths.append(line.strip())
    return paths


def test_update_exits_1_and_lists_every_conflicted_file(updated):
    _, _, result = updated
    assert result.exit_code == 1, result.output
    assert section(result.stdout, "conflicted") == [CONFLICTED]
    assert f"error: conflicts in 1 file: {CONFLICTED};" in result.stderr


def test_edits_in_different_places_merge(updated):
    root, _, result = updated
    theirs = new_render()[MERGED]
    assert (root / MERGED).read_bytes() == theirs + USER_FUNCTION.encode()
    assert MERGED in section(result.stdout, "merged")


def test_overlapping_edits_become_a_labelled_conflict_block(updated):
    root, _, _ = updated
    text = (root / CONFLICTED).read_text()
    theirs = new_render()[CONFLICTED].decode()
    block = re.search(
        r"^<<<<<<< your version\n(.*?)^\|\|\|\|\|\|\| last generated\n(.*?)"
        r"^=======\n(.*?)^>>>>>>> new template\n",
        text,
        re.DOTALL | re.MULTILINE,
    )
    assert block, text
    ours, base, new = block.groups()
    assert "OLD_SETTING = 2" in ours
    assert OLD_SETTING in base
    assert "OLD_SETTING" not in new
    # Outside the block the file is the new render.
    assert text[: block.start()] + new + text[block.end() :] == theirs


def test_changed_default_survives_a_template_change_in_the_same_file(updated):
    root, _, result = updated
    theirs = new_render()[DEFAULT].decode()
    assert (root / DEFAULT).read_text() == change_first_default(theirs)
    assert DEFAULT in section(result.stdout, "merged")


def test_crlf_file_keeps_crlf_and_merges(updated):
    root, wrote, _ = updated
    data = (root / CRLF).read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") > 0
    old_lines = wrote[CRLF].decode().replace("\r\n", "\n").splitlines(keepends=True)
    assert old_lines[0] == OLD_HEADER  # the template's change: this line goes
    expected = "".join(old_lines[1:]).replace("\n", "\r\n").encode()
    assert data == expected
    assert b"  # tuned for our data\r\n" in data


def test_unedited_file_takes_the_template_change_and_keeps_its_mode(updated):
    root, _, result = updated
    assert (root / EXECUTABLE).read_bytes() == new_render()[EXECUTABLE]
    assert stat.S_IMODE((root / EXECUTABLE).stat().st_mode) == 0o755
    assert EXECUTABLE in section(result.stdout, "updated")


def test_file_the_user_deleted_stays_deleted_and_is_reported(updated):
    root, _, result = updated
    assert not (root / DELETED).exists()
    assert section(result.stdout, "deleted") == [DELETED]


def test_file_that_is_not_text_is_never_overwritten(updated):
    root, _, result = updated
    assert (root / BINARY).read_bytes() == PNG
    assert (root / f"{BINARY}.new").read_bytes() == new_render()[BINARY]
    assert section(result.stdout, "skipped") == [f"{BINARY} -> {BINARY}.new"]


def test_identical_edits_are_not_conflicts(updated):
    root, _, result = updated
    assert (root / IDENTICAL).read_bytes() == new_render()[IDENTICAL]
    assert IDENTICAL not in result.stdout


def test_template_added_file_is_created(updated):
    root, _, result = updated
    assert (root / CREATED).read_bytes() == new_render()[CREATED]
    assert CREATED in section(result.stdout, "created")


def test_template_dropped_file_is_removed_only_when_unedited(updated):
    root, wrote, result = updated
    assert not (root / REMOVED).exists()
    assert section(result.stdout, "removed") == [REMOVED]
    assert (root / KEPT).read_bytes() == wrote[KEPT]
    assert section(result.stdout, "kept") == [KEPT]


def test_user_files_are_never_touched(updated, scenario):
    root, _, _ = updated
    before = snapshot(scenario[0])
    for path in USER_FILES:
        assert snapshot(root)[path] == before[path]


def test_files_the_templates_did_not_change_are_untouched(updated, scenario):
    root, _, _ = updated
    before, after = snapshot(scenario[0]), snapshot(root)
    involved = {
        MERGED,
        DEFAULT,
        CONFLICTED,
        CRLF,
        EXECUTABLE,
        DELETED,
        CREATED,
        IDENTICAL,
        REMOVED,
    }
    for path, entry in before.items():
        if path.startswith(".scaffold") or path == RECORD_FILE or path in involved:
            continue
        assert after.get(path) == entry, path


def test_record_and_base_describe_the_new_render(updated):
    root, _, _ = updated
    record = read_record(root)
    assert record.options == Options(PACKAGE)
    assert record.templates_fingerprint == fingerprint()
    base = root / BASE_DIR
    stored = {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in base.rglob("*")
        if p.is_file()
    }
    assert stored == new_render()
    assert [p.name for p in (root / ".scaffold").iterdir()] == [
        "base"
    ]  # no scratch left


def test_update_refuses_while_conflict_markers_remain(updated, tmp_path):
    root = tmp_path / PACKAGE
    shutil.copytree(updated[0], root, symlinks=True)
    before = snapshot(root)
    for command in (["update"], ["check"], ["diff"]):
        result = runner.invoke(app, [*command, str(root)])
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1
        assert (
            f"conflict markers from an earlier update remain in {CONFLICTED};"
            in result.stderr
        )
    assert snapshot(root) == before


def test_resolving_the_conflict_makes_the_project_current(updated, tmp_path):
    root = tmp_path / PACKAGE
    shutil.copytree(updated[0], root, symlinks=True)
    text = (root / CONFLICTED).read_text()
    resolved = re.sub(
        r"^<<<<<<< your version\n(.*?)^\|\|\|\|\|\|\| .*?^>>>>>>> new template\n",
        r"\1",
        text,
        flags=re.DOTALL | re.MULTILINE,
    )
    (root / CONFLICTED).write_text(resolved)
    assert runner.invoke(app, ["check", str(root)]).exit_code == 0
    before = snapshot(root)
    result = runner.invoke(app, ["update", str(root)])
    assert (result.exit_code, result.stdout) == (0, "already up to date\n")
    assert snapshot(root) == before


def test_update_right_after_new_changes_nothing(tmp_path):
    assert runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path)]).exit_code == 0
    root = tmp_path / PACKAGE
    before = snapshot(root)
    for command in ("update", "check", "diff"):
        result = runner.invoke(app, [command, str(root)])
        assert result.exit_code == 0, result.output
        assert (
            result.stdout
            == {"update": "already up to date\n", "check": "up to date\n", "diff": ""}[
                command
            ]
        )
    assert snapshot(root) == before


def test_diff_shows_exactly_what_update_does_and_changes_nothing(
    project, updated, tmp_path
):
    root, _ = project
    before = snapshot(root)
    result = runner.invoke(app, ["diff", str(root)])
    assert result.exit_code == 0
    assert snapshot(root) == before
    assert f"--- a/{MERGED}\n+++ b/{MERGED}\n" in result.stdout
    assert f"--- a/{REMOVED}\n+++ /dev/null\n" in result.stdout
    assert f"--- /dev/null\n+++ b/{BINARY}.new\n" in result.stdout
    assert KEPT not in result.stdout and "NOTES.txt" not in result.stdout
    # Applying the diff gives the same files as the update did.
    patch = tmp_path / "update.patch"
    patch.write_bytes(result.stdout_bytes)  # .stdout turns CRLF into LF
    subprocess.run(["git", "apply", "--unsafe-paths", str(patch)], cwd=root, check=True)
    updated_tree = snapshot(updated[0])
    for path, (data, _) in snapshot(root).items():
        if not path.startswith(".scaffold") and path != RECORD_FILE:
            assert updated_tree[path][0] == data, path
    assert {p for p in updated_tree if not p.startswith(".scaffold")} == {
        p for p in snapshot(root) if not p.startswith(".scaffold")
    }


def test_check_exits_1_with_a_reason_when_behind(project):
    root, _ = project
    before = snapshot(root)
    result = runner.invoke(app, ["check", str(root)])
    assert result.exit_code == 1
    assert (
        result.stdout
        == "behind: 8 files would change; `scaffold diff` shows how; run `scaffold update`\n"
    )
    assert snapshot(root) == before


@pytest.mark.parametrize(
    "breakage, reason",
    [
        (lambda root: (root / RECORD_FILE).unlink(), "is not a scaffold project"),
        (lambda root: (root / RECORD_FILE).write_text("{not json"), "is corrupt"),
        (lambda root: (root / RECORD_FILE).write_text('{"options": {}}'), "is corrupt"),
        (lambda root: shutil.rmtree(root / ".scaffold"), "nothing to merge against"),
    ],
    ids=["no record", "bad json", "missing keys", "no base"],
)
def test_update_refuses_with_one_line_and_changes_nothing(project, breakage, reason):
    root, _ = project
    breakage(root)
    before = snapshot(root)
    for command in ("update", "diff", "check"):
        result = runner.invoke(app, [command, str(root)])
        assert result.exit_code == 1
        assert reason in result.stderr and result.stderr.count("\n") == 1
        assert snapshot(root) == before


def test_options_change_on_update(tmp_path):
    runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path)])
    root = tmp_path / PACKAGE
    topk = root / PACKAGE / "metrics" / "topk.py"
    topk_files = [f"{PACKAGE}/metrics/topk.py", "tests/test_topk.py"]

    result = runner.invoke(app, ["update", str(root), "--metrics", "accuracy,nll,topk"])
    assert result.exit_code == 0, result.output
    assert section(result.stdout, "created") == topk_files
    with_topk = Options(PACKAGE, metrics=("accuracy", "nll", "topk"))
    assert read_record(root).options == with_topk
    assert snapshot_files(root) == new_render(with_topk)

    # An option left unset keeps its recorded value.
    result = runner.invoke(app, ["update", str(root), "--cuda"])
    assert result.exit_code == 0, result.output
    assert read_record(root).options == with_topk.replace(cuda=True)

    result = runner.invoke(
        app, ["update", str(root), "--metrics", "accuracy,nll", "--no-cuda"]
    )
    assert result.exit_code == 0, result.output
    assert section(result.stdout, "removed") == topk_files
    assert not topk.exists()

    runner.invoke(app, ["update", str(root), "--metrics", "accuracy,nll,topk"])
    topk.write_text(topk.read_text() + "\n# k=3 suits our 10 classes better\n")
    result = runner.invoke(app, ["update", str(root), "--metrics", "nll,accuracy"])
    assert result.exit_code == 0, result.output
    assert section(result.stdout, "kept") == [f"{PACKAGE}/metrics/topk.py"]
    assert topk.read_text().endswith("# k=3 suits our 10 classes better\n")
    assert read_record(root).options == Options(PACKAGE)

    result = runner.invoke(app, ["update", str(root), "--metrics", "accuracy,bogus"])
    assert result.exit_code == 1 and "unknown metric 'bogus'" in result.stderr


def test_update_switches_the_data_kind_and_back_keeping_the_users_edits(tmp_path):
    runner.invoke(app, ["new", PACKAGE, "-o", str(tmp_path)])
    root = tmp_path / PACKAGE
    model = root / PACKAGE / "model" / "net.py"
    model.write_text(model.read_text() + "\n\nWIDTH = 384  # ours\n")
    image_files = [
        f"{PACKAGE}/data/augment.py",
        f"{PACKAGE}/data/folders.py",
        f"{PACKAGE}/data/image_cache.py",
        f"{PACKAGE}/data/imagefolder.py",
        f"{PACKAGE}/data/sources.py",
        f"{PACKAGE}/data/survey.py",
        "tests/test_data.py",
    ]

    result = runner.invoke(app, ["update", str(root), "--data", "imagefolder"])
    assert result.exit_code == 0, result.output
    assert section(result.stdout, "created") == image_files
    assert section(result.stdout, "updated") == [
        "README.md",
        f"{PACKAGE}/data/__init__.py",
    ]
    assert section(result.stdout, "removed") == [f"{PACKAGE}/data/mnist.py"]
    images = Options(PACKAGE, data="imagefolder")
    assert read_record(root).options == images
    assert model.read_text().endswith("WIDTH = 384  # ours\n")
    rendered = new_render(images)
    assert snapshot_files(root) == {
        **rendered,
        f"{PACKAGE}/model/net.py": rendered[f"{PACKAGE}/model/net.py"]
        + b"\n\nWIDTH = 384  # ours\n",
    }

    result = runner.invoke(app, ["update", str(root), "--data", "mnist"])
    assert result.exit_code == 0, result.output
    assert section(result.stdout, "removed") == image_files
    assert section(result.stdout, "created") == [f"{PACKAGE}/data/mnist.py"]
    assert read_record(root).options == Options(PACKAGE)
    assert "MNIST" in (root / PACKAGE / "data" / "mnist.py").read_text()

    result = runner.invoke(app, ["update", str(root), "--data", "photos"])
    assert result.exit_code == 1
    assert "unknown data kind 'photos'; choose from mnist, imagefolder" in result.stderr


def snapshot_files(root: Path) -> dict[str, bytes]:
    return {
        path: data
        for path, (data, _) in snapshot(root).items()
        if data is not None and not path.startswith(".scaffold") and path != RECORD_FILE
    }


def test_file_the_user_created_where_the_templates_add_one_conflicts(tmp_path):
    root = create(Options(PACKAGE), tmp_path, templates=old_templates(tmp_path))
    (root / CREATED).write_text("class Metric:\n    pass\n")
    plan = plan_update(root)
    apply(plan)
    assert plan.conflicts == [CREATED]
    text = (root / CREATED).read_text()
    assert text.startswith("<<<<<<< your version\nclass Metric:\n    pass\n")


# Failure injection: the project is byte-identical after any failure.


def count_calls(monkeypatch, module, name, fail_at=None, error=None) -> list[int]:
    """Wrap module.name to count calls and raise `error` at call number fail_at."""
    real = getattr(module, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == fail_at:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


# Each failure and what apply raises for it: a full disk is reported, an
# interrupt goes on interrupting.
FAILURES = [
    (OSError(errno.ENOSPC, "No space left on device"), UpdateFailed),
    (KeyboardInterrupt(), KeyboardInterrupt),
]


def test_failure_at_every_rename_leaves_the_project_as_it_was(
    project, tmp_path, monkeypatch
):
    root, _ = project
    plan = plan_update(root)
    before = snapshot(root)
    with monkeypatch.context() as patch:
        trial = tmp_path / "trial"
        shutil.copytree(root, trial, symlinks=True)
        renames = count_calls(patch, os, "replace")
        apply(dataclasses.replace(plan, root=trial))
    assert renames[0] >= 12  # one per changed file and backup, the base and the record
    for fail_at in range(1, renames[0] + 1):
        for error, raised in FAILURES:
            with monkeypatch.context() as patch:
                count_calls(patch, os, "replace", fail_at, error)
                with pytest.raises(raised):
                    apply(plan)
            assert snapshot(root) == before, (fail_at, error)


def test_full_disk_while_staging_leaves_the_project_as_it_was(project, monkeypatch):
    root, _ = project
    plan = plan_update(root)
    before = snapshot(root)
    for fail_at in (1, 5):
        for error, raised in FAILURES:
            with monkeypatch.context() as patch:
                count_calls(patch, Path, "write_bytes", fail_at, error)
                with pytest.raises(raised):
                    apply(plan)
            assert snapshot(root) == before


def test_failed_update_reports_one_line_and_nothing_changed(project, monkeypatch):
    root, _ = project
    before = snapshot(root)
    count_calls(
        monkeypatch, os, "replace", 7, OSError(errno.ENOSPC, "No space left on device")
    )
    result = runner.invoke(app, ["update", str(root)])
    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: update failed ([Errno 28] No space left on device); nothing was changed\n"
    )
    assert snapshot(root) == before


def test_record_is_unchanged_after_a_failure(project, monkeypatch):
    root, _ = project
    record = (root / RECORD_FILE).read_bytes()
    count_calls(monkeypatch, os, "replace", 3, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        apply(plan_update(root))
    assert (root / RECORD_FILE).read_bytes() == record
    assert json.loads(record)["templates_fingerprint"] != fingerprint()


def test_an_up_to_date_plan_has_no_summary_and_a_behind_one_says_why(tmp_path):
    root = create(Options(PACKAGE), tmp_path)
    assert plan_update(root).summary() == ""
    behind = plan_update(root, {"metrics": ("accuracy", "nll", "topk")})
    assert behind.summary() == "6 files would change; `scaffold diff` shows how"


def test_a_segmentation_project_updates_keeping_the_users_edits(tmp_path):
    result = runner.invoke(
        app, ["new", PACKAGE, "--task", "segmentation", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / PACKAGE
    edits = {
        f"{PACKAGE}/model/net.py": "\n\nBASE_CHANNELS = 16  # ours\n",
        f"{PACKAGE}/data/pairs.py": "\n\ndef is_blank(mask):\n    return not mask.any()\n",
        f"{PACKAGE}/predict.py": "\n# Colours chosen for our scanner.\n",
    }
    for path, added in edits.items():
        (root / path).write_text((root / path).read_text() + added)
    (root / "notes.md").write_text("our runs\n")

    result = runner.invoke(app, ["update", str(root), "--checkpoint", "--plot"])

    assert result.exit_code == 0, result.output
    options = Options(PACKAGE, task="segmentation", checkpoint=True, plot=True)
    assert read_record(root).options == options
    rendered = new_render(options)
    assert snapshot_files(root) == {
        **rendered,
        **{path: rendered[path] + added.encode() for path, added in edits.items()},
        "notes.md": b"our runs\n",
    }
