"""Every option of `new`, `update` and `diff`, generated from the registry.

One case per value an option can move to (a data kind, a metric set, a choice, a
switch turned on): `new` writes it, `diff` previews it on a project without it,
`update` adds it and takes it away again. The expected files come from
render(Options(...)), never from a list here, so a new FeatureSpec, data kind or
metric is covered with no test written, and the layout may change under them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import typing
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import typer
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import BASE_DIR, RECORD_FILE
from scaffold.registry import (
    DATA_KINDS,
    DEFAULT_DATA,
    DEFAULT_METRICS,
    DEFAULT_TASK,
    FEATURES,
    METRICS,
    TASKS,
    FeatureSpec,
)
from scaffold.render import render

runner = CliRunner()
NAME = "mytrainer"
COMMANDS = ("new", "update", "diff")


class Case(NamedTuple):
    """Choosing one value of one option, and going back to the default."""

    id: str
    on: tuple[str, ...]  # flags that choose it
    off: tuple[str, ...]  # flags that undo it
    changes: dict[str, Any]  # what `on` changes in Options
    spec: FeatureSpec | None = None


def no_flag(spec: FeatureSpec) -> str:
    return "--no-" + spec.flag.removeprefix("--")


def cases() -> list[Case]:
    """The cases of a project of the default task; a project keeps its task, whose
    choice is tested on its own below."""
    found = [
        Case(f"data={kind}", ("--data", kind), ("--data", DEFAULT_DATA), {"data": kind})
        for kind, spec in DATA_KINDS.items()
        if kind != DEFAULT_DATA and spec.task == DEFAULT_TASK
    ]
    default_metrics = ",".join(DEFAULT_METRICS)
    offered = [name for name, spec in METRICS.items() if DEFAULT_TASK in spec.tasks]
    for name in offered:  # each metric added to the defaults, or taken from them
        chosen = tuple(m for m in offered if (m in DEFAULT_METRICS) != (m == name))
        if chosen:
            found.append(
                Case(
                    f"metrics={','.join(chosen)}",
                    ("--metrics", ",".join(chosen)),
                    ("--metrics", default_metrics),
                    {"metrics": chosen},
                )
            )
    for spec in FEATURES.values():
        if spec.choices:
            found.extend(
                Case(
                    f"{spec.name}={value}",
                    (spec.flag, value),
                    (spec.flag, spec.default),
                    {spec.name: value},
                    spec,
                )
                for value in spec.choices
                if value != spec.default
            )
        else:
            found.append(
                Case(spec.name, (spec.flag,), (no_flag(spec),), {spec.name: True}, spec)
            )
    return found


CASES = cases()
RUN_TIME_SWITCHES = [
    spec for spec in FEATURES.values() if not spec.render_time and not spec.choices
]


def project_files(root: Path) -> dict[str, bytes]:
    """The project's own files: all but the record and the merge base."""
    return {
        path: data
        for path, data in snapshot(root).items()
        if path != RECORD_FILE and not path.startswith(".scaffold/")
    }


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def rendered(options: Options) -> dict[str, bytes]:
    return {path: text.encode() for path, text in render(options).items()}


def recorded(root: Path) -> dict[str, Any]:
    return json.loads((root / RECORD_FILE).read_text())["options"]


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output)
    return result


def diff_headers(diff: str) -> set[tuple[str, str]]:
    """The (from, to) names of every file in a unified diff."""
    lines = diff.splitlines()
    return {
        (old.removeprefix("--- "), new.removeprefix("+++ "))
        for old, new, hunk in zip(lines, lines[1:], lines[2:])
        if old.startswith("--- ") and new.startswith("+++ ") and hunk.startswith("@@")
    }


def changed(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


@pytest.fixture(scope="module")
def default_project(tmp_path_factory) -> Path:
    """A project of every default, written once; each test changes a copy."""
    folder = tmp_path_factory.mktemp("default")
    invoke("new", NAME, "--no-input", "-o", str(folder))
    return folder / NAME


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_new_writes_the_option(case, tmp_path):
    invoke("new", NAME, *case.on, "--no-input", "-o", str(tmp_path))

    root = tmp_path / NAME
    options = Options(NAME, **case.changes)
    assert recorded(root) == options.to_record()
    assert project_files(root) == rendered(options)
    for requirement in case.spec.requires if case.spec else ():
        assert requirement in (root / "pyproject.toml").read_text()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_diff_shows_the_option_and_update_adds_and_removes_it(
    case, default_project, tmp_path
):
    root = tmp_path / NAME
    shutil.copytree(default_project, root)
    off, on = Options(NAME), Options(NAME, **case.changes)
    without, with_it = rendered(off), rendered(on)
    before = snapshot(root)

    # diff: the files the option adds, removes or changes, and nothing written.
    shown = invoke("diff", str(root), *case.on).stdout
    assert diff_headers(shown) == {
        (
            f"a/{path}" if path in without else "/dev/null",
            f"b/{path}" if path in with_it else "/dev/null",
        )
        for path in changed(without, with_it)
    }
    for path in with_it.keys() - without.keys():
        assert f"--- /dev/null\n+++ b/{path}\n" in shown
    assert snapshot(root) == before

    # update adds it: the record, exactly the rendered files, the requirements.
    invoke("update", str(root), *case.on)
    assert recorded(root) == on.to_record()
    assert project_files(root) == with_it
    assert all((root / path).is_file() for path in with_it)
    pyproject = (root / "pyproject.toml").read_text()
    for requirement in case.spec.requires if case.spec else ():
        assert requirement in pyproject
    outside_record = {
        p for p in changed(before, snapshot(root)) if not p.startswith(".scaffold")
    }
    assert outside_record == changed(without, with_it)

    # update takes it away again: back to the default project, byte for byte.
    invoke("update", str(root), *case.off)
    assert recorded(root) == off.to_record()
    assert project_files(root) == without
    assert not any((root / path).exists() for path in with_it.keys() - without.keys())
    pyproject = (root / "pyproject.toml").read_text()
    for requirement in case.spec.requires if case.spec else ():
        assert requirement not in pyproject
    assert snapshot(root) == before


@pytest.mark.parametrize("spec", RUN_TIME_SWITCHES, ids=lambda spec: spec.name)
def test_a_run_time_switch_changes_only_the_record(spec, default_project, tmp_path):
    """What "Recorded only" promises: every project has its code either way."""
    assert rendered(Options(NAME, **{spec.name: True})) == rendered(Options(NAME))
    root = tmp_path / NAME
    shutil.copytree(default_project, root)
    before = snapshot(root)

    result = invoke("diff", str(root), spec.flag)
    assert result.stdout == ""
    assert "already up to date" not in result.stderr
    invoke("update", str(root), spec.flag)

    assert recorded(root)[spec.name] is True
    assert changed(before, snapshot(root)) <= {RECORD_FILE} | {
        p for p in before if p.startswith(BASE_DIR + "/")
    }
    assert RECORD_FILE in changed(before, snapshot(root))


def command_options(command: str) -> dict[str, Any]:
    """{parameter name: click option} of a command, as Typer builds it."""
    group = typer.main.get_command(app)
    return {param.name: param for param in group.commands[command].params}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_its_flags_from_the_registry(command):
    options = command_options(command)
    assert options["data"].opts == ["--data"]
    assert options["metrics"].opts == ["--metrics"]
    for spec in FEATURES.values():
        option = options[spec.name]
        assert option.opts == [spec.flag]
        assert option.secondary_opts == ([] if spec.choices else [no_flag(spec)])
        assert option.default is None  # unset: the default, or the record
    fields = {field.name for field in dataclasses.fields(Options)} - {"name"}
    assert fields <= options.keys()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_says_a_run_time_switch_is_only_recorded(command):
    options = command_options(command)
    for spec in RUN_TIME_SWITCHES:
        text = options[spec.name].help
        assert text.startswith("Recorded only: every project"), text
        assert "Default:" not in text
    for option in options.values():
        for spec in RUN_TIME_SWITCHES:
            assert f"Default: {no_flag(spec)}" not in (option.help or "")
    helped = " ".join(
        runner.invoke(app, [command, "--help"], terminal_width=200).output.split()
    )
    for spec in RUN_TIME_SWITCHES:
        assert f"{spec.flag} / {no_flag(spec)} Recorded only:" in helped


def test_help_of_new_names_the_default_of_what_adds_files():
    options = command_options("new")
    assert options["task"].help.endswith(f"Default: {DEFAULT_TASK}.")
    for task in TASKS.values():
        assert f"{task.data} for {task.name}" in options["data"].help
        assert f"{','.join(task.metrics)} for {task.name}" in options["metrics"].help
    for spec in FEATURES.values():
        if spec.choices:
            assert options[spec.name].help.endswith(f"Default: {spec.default}.")
        elif spec.render_time:
            assert options[spec.name].help.endswith(f"Default: {no_flag(spec)}.")
    # update and diff keep what is recorded: no default to name.
    for command in ("update", "diff"):
        assert not any(
            "Default:" in (option.help or "")
            for option in command_options(command).values()
        )


def test_every_feature_is_an_options_field_of_its_type_and_default():
    """Options spells its fields out; the registry and it must agree."""
    fields = {field.name: field for field in dataclasses.fields(Options)}
    types = typing.get_type_hints(Options)
    for spec in FEATURES.values():
        assert spec.name in fields, spec.name
        assert types[spec.name] is type(spec.default), spec.name
        assert fields[spec.name].default == spec.default, spec.name
    # Left empty, the task, data kind and metrics take each other's defaults.
    assert (fields["task"].default, fields["data"].default) == ("", "")
    assert fields["metrics"].default == ()
    default = Options(name=NAME)
    assert (default.task, default.data) == (DEFAULT_TASK, DEFAULT_DATA)
    assert default.metrics == DEFAULT_METRICS == TASKS[DEFAULT_TASK].metrics
    assert fields.keys() - FEATURES.keys() == {"name", "task", "data", "metrics"}


@pytest.mark.parametrize("task", [t for t in TASKS if t != DEFAULT_TASK])
def test_new_writes_the_task_with_its_data_and_metrics(task, tmp_path):
    invoke("new", NAME, "--task", task, "--no-input", "-o", str(tmp_path))

    spec = TASKS[task]
    options = recorded(tmp_path / NAME)
    assert (options["task"], options["data"]) == (task, spec.data)
    assert tuple(options["metrics"]) == spec.metrics
    expected = Options(name=NAME, task=task)
    assert project_files(tmp_path / NAME) == rendered(expected)
    # The task's data kind alone says the task.
    invoke("new", "other", "--data", spec.data, "--no-input", "-o", str(tmp_path))
    assert recorded(tmp_path / "other")["task"] == task


@pytest.mark.parametrize("task", [t for t in TASKS if t != DEFAULT_TASK])
@pytest.mark.parametrize("command", ["update", "diff"])
def test_a_project_keeps_its_task(task, command, tmp_path):
    invoke("new", NAME, "--no-input", "-o", str(tmp_path))
    root = tmp_path / NAME
    before = snapshot(root)

    result = runner.invoke(app, [command, str(root), "--task", task])

    assert result.exit_code == 1
    assert result.output == (
        f"error: --task {task}: this is a {DEFAULT_TASK} project, and a {task} "
        f"project is another project; create it with `scaffold new NAME --task "
        f"{task}`\n"
    )
    result = runner.invoke(app, [command, str(root), "--data", TASKS[task].data])
    assert result.exit_code == 1
    assert f"a {DEFAULT_TASK} project takes" in result.output
    assert snapshot(root) == before


def test_a_metric_of_another_task_is_refused_in_one_line(tmp_path):
    result = runner.invoke(
        app,
        [
            "new",
            NAME,
            "--task",
            "segmentation",
            "--metrics",
            "accuracy",
            "--no-input",
            "-o",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 1
    assert result.output.startswith(
        "error: metric 'accuracy' is not one of a segmentation project; choose from"
    )
    assert not (tmp_path / NAME).exists()
