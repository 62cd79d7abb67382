"""Projects written by earlier versions of scaffold, then edited by hand, update to
the current templates without losing a line.

tests/fixtures/ holds two sets of such projects, each a `digits` (the defaults) and
an `everything` (every option), exactly as that version wrote them (record file,
.scaffold/base and all), with a user's edits on top:

    release_0_1_0   release 0.1.0, before config.py, evaluation.py and history.py:
                    a changed --epochs default in train.py, a wider Net, a line in
                    the README and a module of their own (augment.py)
    previous_main   commit be5332b, the last landed before the --data kinds,
                    loaders.py, images.py, arguments.py, backbones.py and
                    predict.py (it also records 0.1.0, under another templates
                    fingerprint): changed --epochs and --batch-size defaults in
                    config.py, a wider Net and a comment in model.py, a comment in
                    data.py, an extra print in train.py, a line in the README, a
                    module of their own (augment_extra.py) and notes/runs.md
    flat_layout     commit 4ed7602, the last with every module at the package's
                    top (before engine/, data/ and model/): a changed --epochs
                    default in config.py, a wider Net and a comment in model.py, a
                    function of their own in engine.py, a comment in data.py, another
                    base class for DataError in loaders.py (which the templates change
                    too), a module of their own (sizes.py) and notes/runs.md

Every user line survives the update, merged or inside a conflict block; the user's
own files are untouched; the generated files they never edited equal the new render.
Taking the new side of every conflict block, and writing the user's changed defaults
into the new code where that dropped them, gives a project that is current, keeps
the user's defaults, and (digits) passes its own tests.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.project import BASE_DIR, RECORD_FILE, read_record
from scaffold.render import fingerprint, render

from .conftest import REPO, run_python

FIXTURES = REPO / "tests" / "fixtures"
# Each set of projects, with the templates fingerprint its records hold.
SETS = {
    "release_0_1_0": "59ad03f060c4ed1c",
    "previous_main": "66f663835b868188",
    "flat_layout": "c8e05fca321afe6c",
}
PROJECTS = [
    (fixture_set, name) for fixture_set in SETS for name in ("digits", "everything")
]
# What the fixtures are, pinned: the generated files each set's user edited, and
# the files of their own.
EDITED = {
    "release_0_1_0": {"README.md", "{name}/model.py", "{name}/train.py"},
    "previous_main": {
        "README.md",
        "{name}/config.py",
        "{name}/data.py",
        "{name}/model.py",
        "{name}/train.py",
    },
    "flat_layout": {
        "{name}/config.py",
        "{name}/data.py",
        "{name}/engine.py",
        "{name}/loaders.py",
        "{name}/model.py",
    },
}
OWN = {
    "release_0_1_0": {"{name}/augment.py"},
    "previous_main": {"{name}/augment_extra.py", "notes/runs.md"},
    "flat_layout": {"{name}/sizes.py", "notes/runs.md"},
}
CACHES = {"__pycache__", ".pytest_cache", ".ruff_cache"}
CONFLICT = re.compile(
    rb"<<<<<<< your version\n(.*?)\|\|\|\|\|\|\| last generated\n.*?=======\n"
    rb"(.*?)>>>>>>> new template\n",
    re.DOTALL,
)
# The user's defaults as the project's own code has them, before and after.
DEFAULTS = """
import inspect, json
from {name}.model import Net
from {name}.{flags} import parse_args
args = parse_args([])
hidden = inspect.signature(Net).parameters["hidden"].default
print(json.dumps({{"epochs": args.epochs, "batch_size": args.batch_size,
                  "hidden": hidden}}))
"""


def user_lines(project: Path) -> dict[str, list[bytes]]:
    """Per generated file, the lines the user has that the last render had not."""
    base = project / BASE_DIR
    added = {}
    for generated in base.rglob("*"):
        if generated.is_file():
            path = generated.relative_to(base).as_posix()
            before = set(generated.read_bytes().splitlines())
            mine = (project / path).read_bytes().splitlines()
            added[path] = [line for line in mine if line not in before]
    return {path: lines for path, lines in added.items() if lines}


def own_files(project: Path) -> dict[str, bytes]:
    """The user's own files: neither generated, nor the tool's bookkeeping, nor a
    tool's cache (which git ignores, in a fixture too)."""
    base = project / BASE_DIR
    own = {}
    for path in project.rglob("*"):
        relative = path.relative_to(project)
        if (
            path.is_file()
            and not {".scaffold", *CACHES} & set(relative.parts)
            and relative.as_posix() != RECORD_FILE
            and not (base / relative).is_file()
        ):
            own[relative.as_posix()] = path.read_bytes()
    return own


@pytest.fixture(params=PROJECTS, ids=["/".join(p) for p in PROJECTS])
def old_project(request, tmp_path) -> Path:
    """A copy of one fixture project, at tmp_path/<set>/<name>."""
    fixture_set, name = request.param
    project = tmp_path / fixture_set / name
    shutil.copytree(FIXTURES / fixture_set / name, project)
    return project


def set_name(project: Path) -> str:
    return project.parent.name


def paths(project: Path, patterns: set[str]) -> set[str]:
    return {pattern.format(name=project.name) for pattern in patterns}


def update(project: Path):
    return CliRunner().invoke(app, ["update", str(project)])


def listed(output: str, action: str) -> set[str]:
    """The files the update report lists under `action`, at their new paths."""
    lines = output.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith(f"{action}: "))
    files = set()
    for line in lines[heading + 1 :]:
        if not line.startswith("  "):
            break
        files.add(line.strip().split(" -> ")[-1])
    return files


def moves(output: str) -> dict[str, str]:
    """{old path: new path} of every file the update report names as moved."""
    return dict(
        line.strip().split(" -> ")
        for line in output.splitlines()
        if line.startswith("  ") and " -> " in line
    )


def with_conflicts(project: Path) -> set[str]:
    """The generated files holding conflict blocks."""
    return {
        path
        for path in render(read_record(project).options)
        if CONFLICT.search((project / path).read_bytes())
    }


def defaults(project: Path) -> dict:
    # Release 0.1.0 parsed the flags in train.py.
    flags = "config" if (project / project.name / "config.py").is_file() else "train"
    code = DEFAULTS.format(name=project.name, flags=flags)
    result = run_python(["-c", code], project)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_fixtures_are_earlier_projects_with_edits(old_project):
    record = read_record(old_project)
    assert record.scaffold_version == "0.1.0"
    assert record.templates_fingerprint == SETS[set_name(old_project)]
    assert record.templates_fingerprint != fingerprint()
    kind = set_name(old_project)
    assert set(user_lines(old_project)) == paths(old_project, EDITED[kind])
    assert set(own_files(old_project)) == paths(old_project, OWN[kind])


def test_update_keeps_every_edit_and_brings_the_new_layout(old_project):
    name = old_project.name
    edited = user_lines(old_project)
    own = own_files(old_project)

    result = update(old_project)

    # Edits that overlap template changes are shown in conflict blocks rather
    # than dropped, in edited files only: in the earlier sets, the user widened the
    # model on Net's signature line, which took in_channels (and train.py conflicts
    # too: release 0.1.0's flags moved to config.py; previous_main's print_record
    # gained lines where the user added a print); in flat_layout, DataError's
    # base class. Every edited file that moved is merged at its new path.
    assert result.exit_code == 1, result.output
    moved = moves(result.output)
    now_at = {path: moved.get(path, path) for path in edited}
    conflicted = listed(result.output, "conflicted")
    assert conflicted == with_conflicts(old_project)
    expected = {
        "flat_layout": f"{name}/data/loaders.py",
        "previous_main": f"{name}/model/net.py",
        "release_0_1_0": f"{name}/model/net.py",
    }
    assert expected[set_name(old_project)] in conflicted
    assert conflicted <= set(now_at.values())
    for path, lines in edited.items():
        merged = (old_project / now_at[path]).read_bytes()
        for line in lines:
            assert line in merged, f"{path} lost {line!r} at {now_at[path]}"
        if now_at[path] != path:
            assert not (old_project / path).exists(), f"{path} left behind"
    assert "kept" not in result.output
    for path, data in own.items():
        assert (old_project / path).read_bytes() == data, path
    rendered = render(read_record(old_project).options)
    for path, text in rendered.items():
        if path not in now_at.values():
            assert (old_project / path).read_text() == text, path
    for module in ("config.py", "arguments.py", "data/loaders.py", "predict.py"):
        assert (old_project / name / module).is_file()


def take_the_new_side(project: Path) -> None:
    for path in with_conflicts(project):
        file = project / path
        file.write_bytes(CONFLICT.sub(lambda m: m.group(2), file.read_bytes()))


def reapply(path: Path, generated: str, mine: str) -> None:
    """The user's change, written again where taking the new side dropped it."""
    path.write_text(path.read_text().replace(generated, mine))


@pytest.mark.slow  # runs the updated project's own tests
def test_taking_the_new_side_of_the_conflicts_gives_a_working_current_project(
    old_project,
):
    name = old_project.name
    before = defaults(old_project)
    assert before["epochs"] == 3 and before["hidden"] == 384  # the user's
    edited = user_lines(old_project)
    moved = moves(update(old_project).output)
    conflicted = with_conflicts(old_project)

    take_the_new_side(old_project)
    # The user's lines outside conflict blocks stay. The wider model is written into
    # Net's new signature, and where --epochs or --batch-size sat in a conflict
    # (both lost their fixed default to data/sizing.py), their defaults.
    for old, lines in edited.items():
        path = moved.get(old, old)
        if path not in conflicted:
            merged = (old_project / path).read_bytes()
            assert all(line in merged for line in lines), path
    model = old_project / name / "model" / "net.py"
    reapply(model, "hidden=256", f"hidden={before['hidden']}")
    config = old_project / name / "config.py"
    for flag in ("epochs", "batch_size"):
        declared = f'"--{flag.replace("_", "-")}",\n        type=positive_int,\n'
        reapply(config, declared, f"{declared}        default={before[flag]},\n")

    assert CliRunner().invoke(app, ["check", str(old_project)]).exit_code == 0
    assert defaults(old_project) == before
    if name == "digits":
        tests = run_python(
            ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], old_project
        )
        assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
