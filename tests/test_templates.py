"""The template tree: plain portable paths, a manifest that names every file, and
templates that stay readable as the Python or text they render."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import jinja2
import pytest

from scaffold.options import Options
from scaffold.registry import CORE_FILES, DATA_KINDS, FEATURES, METRICS, TASKS
from scaffold.render import (
    TEMPLATE_SUFFIX,
    _environment,
    context,
    manifest,
    output_path,
    render,
    template_paths,
    templates_dir,
)

from .conftest import REPO, write_tree

# Characters Windows forbids in file names, a space, and Jinja's delimiters.
UNPORTABLE = re.compile(r'[<>:"|?*\s{}%#]')
TAG_LINE = re.compile(r"^\s*\{%.*%\}\s*$")
# Choice tags; `for` loops over registry data are not choices.
IF_TAG = re.compile(r"\{%-?\s*(if|elif|else|endif)\b")


def manifest_files() -> set[str]:
    named = set(CORE_FILES)
    for spec in METRICS.values():
        named.update(spec.files)
    for spec in [*FEATURES.values(), *DATA_KINDS.values(), *TASKS.values()]:
        named.update(spec.files)
    return named


def test_the_manifest_names_every_template_file_and_each_one_exists():
    on_disk = {path.as_posix() for path in template_paths(templates_dir())}
    assert on_disk == manifest_files()


def most_of_a_task(data: str) -> Options:
    """Every metric of the data kind's task and every render-time feature on."""
    task = DATA_KINDS[data].task
    return Options(
        name="mytrainer",
        data=data,
        metrics=tuple(n for n, spec in METRICS.items() if task in spec.tasks),
        **{name: True for name, spec in FEATURES.items() if spec.render_time},
    )


def test_every_template_file_is_rendered_by_some_option_set():
    # A task's own file takes the place of another: each must still be used, the
    # one replaced by the other tasks and the task's own by its task.
    used = {path for data in DATA_KINDS for path in manifest(most_of_a_task(data))}
    assert used == manifest_files()
    for task in TASKS.values():
        chosen = manifest(Options(name="mytrainer", task=task.name))
        assert set(task.files) <= set(chosen), task.name
    # And no two files of a render land at one path, one silently lost.
    for data in DATA_KINDS:
        targets = [output_path(f, "p") for f in manifest(most_of_a_task(data))]
        assert len(targets) == len(set(targets)), data


def test_no_path_in_the_repository_holds_a_character_windows_or_shells_reject():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert tracked
    bad = [path for path in tracked if UNPORTABLE.search(path)]
    assert not bad


def test_the_built_wheel_ships_every_template_under_a_portable_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if UNPORTABLE.search(name)]
    shipped = {
        name.split("/templates/", 1)[1] for name in names if "/templates/" in name
    }
    assert shipped == manifest_files()


def templates() -> list[Path]:
    root = templates_dir()
    return [root / path for path in template_paths(root)]


@pytest.mark.parametrize(
    "template",
    [p for p in templates() if p.name.endswith(TEMPLATE_SUFFIX)],
    ids=lambda p: p.relative_to(templates_dir()).as_posix(),
)
def test_a_template_is_mostly_its_output(template):
    """At most 10% tag lines; a choice is a whole-line `{% if %}` block, never nested,
    never inside an expression, a string or a line of code; no re-indenting."""
    lines = template.read_text().splitlines()
    tag_lines = [line for line in lines if TAG_LINE.match(line)]
    assert len(tag_lines) <= 0.10 * len(lines), f"{len(tag_lines)} of {len(lines)}"
    assert "filter indent" not in template.read_text()
    depth = 0
    conditions = []
    for number, line in enumerate(lines, start=1):
        choice = IF_TAG.search(line)
        inline_if = re.search(r"\{\{[^}]*\bif\b[^}]*\}\}", line)
        assert not inline_if, f"line {number}: a condition inside an expression"
        if not choice:
            continue
        assert TAG_LINE.match(line), f"line {number}: a choice inside a line"
        kind = choice.group(1)
        if kind == "if":
            assert depth == 0, f"line {number}: a nested if"
            depth += 1
            conditions.append(line.strip())
        elif kind == "endif":
            depth -= 1
    assert len(conditions) == len(set(conditions)), "one block per choice"


def test_plain_files_hold_no_jinja():
    for template in templates():
        if not template.name.endswith(TEMPLATE_SUFFIX):
            text = template.read_text()
            assert not re.search(r"\{\{|\{%|\{#", text), template


def test_a_misspelt_template_variable_fails_the_render_instead_of_rendering_empty(
    tmp_path,
):
    (tmp_path / "broken.py.jinja").write_text('NAME = "{{ pakage }}"\n')
    template = _environment(tmp_path).get_template("broken.py.jinja")

    with pytest.raises(jinja2.UndefinedError, match="pakage"):
        template.render(context(Options(name="mytrainer")))


@pytest.mark.parametrize("data", sorted(DATA_KINDS))
def test_the_generated_gitignore_ignores_no_generated_file(tmp_path, data):
    files = render(Options(name="mytrainer", data=data))
    root = write_tree(tmp_path, files)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        input="\n".join(files),
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout == "", ignored.stdout
    (root / "runs").mkdir()
    (root / "runs/model.pt").write_bytes(b"")
    assert (
        subprocess.run(
            ["git", "check-ignore", "-q", "runs/model.pt"], cwd=root, check=False
        ).returncode
        == 0
    )


@pytest.mark.parametrize("data", DATA_KINDS)
def test_templates_are_written_in_blacks_format_so_a_short_name_never_runs_black(
    monkeypatch, data
):
    # render() runs black only on a file with a line past 88 columns; a template
    # that leaves black such a line costs every render a tokenizer pass, and the
    # render matrix renders thousands of option sets.
    import scaffold.render

    too_long = []
    check = scaffold.render._code_too_long

    def spy(text):
        if check(text):
            too_long.extend(line for line in text.splitlines() if len(line) > 88)
        return False

    monkeypatch.setattr(scaffold.render, "_code_too_long", spy)
    for options in (Options(name="mytrainer", data=data), most_of_a_task(data)):
        render(options)
    assert too_long == []
