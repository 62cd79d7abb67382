"""Interactive `scaffold new` in a real terminal (pexpect's pseudo-terminal), and the
same command where nothing may be asked: stdin not a terminal, or --no-input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.registry import DATA_KINDS, DEFAULT_TASK, FEATURES, METRICS, TASKS

REPO = Path(__file__).resolve().parent.parent
DOWN, SPACE, ENTER, ERASE_LINE = "\x1b[B", " ", "\r", "\x15"
USAGE_ERROR = (
    "Usage: scaffold new [OPTIONS] {name}\n"
    "Try 'scaffold new --help' for help.\n"
    "\n"
    "Error: Missing argument 'name'.\n"
)


def terminal(*args: str, cwd: Path) -> pexpect.spawn:
    """`scaffold new ARGS` in a terminal 200 columns wide, output kept for errors."""
    env = {
        **os.environ,
        "TERM": "xterm",
        "PYTHONPATH": str(REPO),
        # No cursor-position query: a pty answers none, and prompt_toolkit would wait.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    child = pexpect.spawn(
        sys.executable,
        ["-m", "scaffold", "new", *args],
        cwd=str(cwd),
        env=env,
        dimensions=(60, 200),
        encoding="utf-8",
        timeout=30,
    )
    log = cwd / "terminal.log"
    child.logfile_read = log.open("w")  # finish() closes it
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    child.logfile_read.close()
    return child.exitstatus


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def task_data_kinds(task: str) -> list[str]:
    return [name for name, spec in DATA_KINDS.items() if spec.task == task]


def task_metrics(task: str) -> list[str]:
    return [name for name, spec in METRICS.items() if task in spec.tasks]


def toggles(order: list[str], wanted: set[str], checked: set[str]) -> str:
    """Keys that move down a checkbox list and toggle each entry whose state
    differs from the wanted one, then accept."""
    keys = ""
    for name in order:
        if (name in wanted) != (name in checked):
            keys += SPACE
        keys += DOWN
    return keys + ENTER


def test_answering_every_question_writes_what_the_same_flags_write(tmp_path):
    kinds = task_data_kinds(DEFAULT_TASK)
    data = kinds[-1]  # the last kind: the answer moves off the default
    metrics = {"accuracy", "topk"}
    switches = [s for s in FEATURES.values() if not s.choices]
    listed = [s.name for s in switches if s.render_time] + [
        s.name for s in switches if not s.render_time
    ]
    turned_on = {"checkpoint", "amp"}
    child = terminal(cwd=tmp_path)

    child.expect("Project name")
    child.send("my-trainer" + ENTER)
    # Re-asked with the error the flag gives, until the name is valid.
    child.expect(r"project name 'my-trainer' is not a valid Python package name")
    child.send(ERASE_LINE + "webtrainer" + ENTER)
    child.expect("What does it learn")
    child.send(ENTER)  # the default task
    child.expect("What does it train on")
    for kind in kinds:  # every choice shows its summary
        child.expect_exact(DATA_KINDS[kind].summary)
    child.send(DOWN * kinds.index(data) + ENTER)
    child.expect("Metrics")
    child.expect_exact(METRICS["confusion"].summary)
    child.send(toggles(task_metrics(DEFAULT_TASK), metrics, {"accuracy", "nll"}))
    child.expect("Features")
    child.expect_exact(FEATURES["amp"].summary)
    child.send(toggles(listed, turned_on, set()))
    child.expect("Scheduler")
    child.send(DOWN + ENTER)  # the second choice
    child.expect("in which folder")
    child.send(ERASE_LINE + "out" + ENTER)
    child.expect("writes +out/webtrainer")
    child.expect("Write it")
    child.send("y")
    child.expect("created out/webtrainer")
    assert finish(child) == 0

    by_flags = CliRunner().invoke(
        app,
        [
            "new",
            "webtrainer",
            "--data",
            data,
            "--metrics",
            ",".join(sorted(metrics)),
            *(f"--{name.replace('_', '-')}" for name in sorted(turned_on)),
            "--scheduler",
            FEATURES["scheduler"].choices[1],
            "--output-dir",
            str(tmp_path / "flags"),
        ],
    )
    assert by_flags.exit_code == 0, by_flags.output
    answered = snapshot(tmp_path / "out" / "webtrainer")
    assert answered == snapshot(tmp_path / "flags" / "webtrainer")


def test_a_task_chosen_is_asked_only_its_own_data_and_metrics(tmp_path):
    task = TASKS[list(TASKS)[-1]]  # off the default
    assert task.name != DEFAULT_TASK and len(task_data_kinds(task.name)) == 1
    offered = task_metrics(task.name)
    metrics = {offered[-1]}  # one metric only: every default but one unchecked
    child = terminal("webtrainer", "-o", "out", "--no-amp", cwd=tmp_path)
    child.expect("What does it learn")
    for each in TASKS.values():
        child.expect_exact(each.summary)
    child.send(DOWN * list(TASKS).index(task.name) + ENTER)
    child.expect("Metrics")
    child.send(toggles(offered, metrics, set(task.metrics)))
    child.expect("Features")
    asked_metrics = child.before
    child.send(ENTER)
    child.expect("Scheduler")
    child.send(ENTER)
    child.expect(f"task +{task.name}")
    child.expect("Write it")
    child.send("y")
    child.expect("created out/webtrainer")
    assert finish(child) == 0
    log = (tmp_path / "terminal.log").read_text()
    # Its one data kind is not asked about; only its metrics are offered.
    assert "What does it train on" not in log
    for name, spec in METRICS.items():
        assert (spec.summary in asked_metrics) == (name in offered), name

    by_flags = CliRunner().invoke(
        app,
        ["new", "webtrainer", "--task", task.name, "--metrics", ",".join(metrics)]
        + ["--output-dir", str(tmp_path / "flags")],
    )
    assert by_flags.exit_code == 0, by_flags.output
    answered = snapshot(tmp_path / "out" / "webtrainer")
    assert answered == snapshot(tmp_path / "flags" / "webtrainer")


def test_options_given_as_flags_are_not_asked_again(tmp_path):
    flags = ["webtrainer", "--metrics", "nll", "--scheduler", "none", "--no-amp"]
    child = terminal(*flags, "-o", "out", cwd=tmp_path)
    child.expect("What does it train on")
    child.send(ENTER)
    child.expect("Features")
    child.send(ENTER)
    child.expect("Write it")
    asked = child.before
    child.send("y")
    assert finish(child) == 0
    log = (tmp_path / "terminal.log").read_text()
    assert "Project name" not in log
    assert "What does it learn" not in log  # metrics given go with the default task
    assert "Metrics" not in log
    assert "Scheduler" not in log
    assert "in which folder" not in log
    assert FEATURES["amp"].summary not in log
    assert "metrics    nll" in asked
    assert (tmp_path / "out" / "webtrainer" / ".scaffold.json").is_file()


def test_declining_the_summary_writes_nothing(tmp_path):
    child = terminal("webtrainer", cwd=tmp_path)
    for question in (
        "learn",
        "train on",
        "Metrics",
        "Features",
        "Scheduler",
        "in which folder",
    ):
        child.expect(question)
        child.send(ENTER)
    child.expect("Write it")
    child.send("n")
    child.expect("nothing was written")
    assert finish(child) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["terminal.log"]


def test_ctrl_c_while_asked_exits_130_having_changed_nothing(tmp_path):
    child = terminal(cwd=tmp_path)
    child.expect("Project name")
    child.sendintr()
    child.expect("error: interrupted; nothing was changed")
    assert finish(child) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["terminal.log"]


def test_no_input_in_a_terminal_asks_nothing(tmp_path):
    child = terminal("--no-input", cwd=tmp_path)
    child.expect("Missing argument 'name'")
    assert finish(child) == 2
    child = terminal("webtrainer", "--no-input", cwd=tmp_path)
    child.expect("created webtrainer")
    assert finish(child) == 0
    log = (tmp_path / "terminal.log").read_text()
    assert "Project name" not in log and "train on" not in log


def run_without_terminal(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scaffold", "new", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,  # asking would block: fail instead
        check=False,
    )


def test_without_a_terminal_a_missing_name_is_the_usage_error_of_before(tmp_path):
    result = run_without_terminal(cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", USAGE_ERROR)
    assert list(tmp_path.iterdir()) == []


def test_without_a_terminal_new_writes_as_before_asking_nothing(tmp_path):
    result = run_without_terminal("webtrainer", "--checkpoint", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created webtrainer\n")
    by_runner = CliRunner().invoke(
        app, ["new", "webtrainer", "--checkpoint", "-o", str(tmp_path / "runner")]
    )
    assert by_runner.exit_code == 0
    assert snapshot(tmp_path / "webtrainer") == snapshot(
        tmp_path / "runner" / "webtrainer"
    )


@pytest.mark.parametrize("name", ["my-trainer", "torch"])
def test_without_a_terminal_a_bad_name_is_the_one_line_error(tmp_path, name):
    result = run_without_terminal(name, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: project name {name!r}")
    assert result.stderr.count("\n") == 1
