"""Interactive `scaffold new`: in a terminal, ask for what the command line left out.

Every question is built from the registry (TASKS, DATA_KINDS, METRICS, FEATURES), so
a new task, data kind, metric or feature is offered here with no change to this
module. The answers become the same Options the flags would give: a project made by
answering
equals, byte for byte, the one made by the same flags. Questions come from
questionary (on prompt_toolkit), not hand-written terminal handling.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, NamedTuple

import questionary
from questionary import Choice, Separator

from scaffold.errors import InvalidOption
from scaffold.options import Options, normalize_metrics, validate_name
from scaffold.registry import (
    DATA_KINDS,
    DEFAULT_TASK,
    FEATURES,
    METRICS,
    TASKS,
    DataSpec,
    FeatureSpec,
    TaskSpec,
)

# Stands in for a name not yet asked, so that options given as flags are checked
# (with the flags' own errors) before any question is put.
PLACEHOLDER_NAME = "mytrainer"

# Options' own defaults, preselected in every question.
DEFAULTS: dict[str, Any] = {
    field.name: field.default
    for field in dataclasses.fields(Options)
    if field.default is not dataclasses.MISSING
}


class Answers(NamedTuple):
    options: Options
    output_dir: Path


def can_ask(no_input: bool) -> bool:
    """Whether to ask: --no-input was not given and both ends are a terminal.

    Standard output too: asked into a pipe or a file, the questions would be lost,
    and the command would wait for answers the user never saw.
    """
    return not no_input and sys.stdin.isatty() and sys.stdout.isatty()


def ask_new(
    name: str | None, given: dict[str, Any], output_dir: Path | None
) -> Answers | None:
    """Ask for the name, options and output folder that were not given, then show
    a summary to confirm; None when the user declines it.

    given: the options from flags (cli.option_changes); they are not asked again.
    Ctrl-C raises KeyboardInterrupt, which `new` reports as it does while writing.
    """
    Options(name=name or PLACEHOLDER_NAME, **given)  # a bad flag fails before asking
    chosen = dict(given)
    asked = False
    if name is None:
        name, asked = ask_name(), True
    # Data and metrics are a task's own: given, they go with the default task or
    # say theirs.
    if not given.keys() & {"task", "data", "metrics"} and len(TASKS) > 1:
        chosen["task"], asked = ask_task(), True
    task = TASKS[Options(name=PLACEHOLDER_NAME, **chosen).task]
    kinds = [kind for kind in DATA_KINDS.values() if kind.task == task.name]
    if "data" not in given and len(kinds) > 1:
        chosen["data"], asked = ask_data(kinds, task.data), True
    if "metrics" not in given:
        chosen["metrics"], asked = ask_metrics(task), True
    switches = [
        spec
        for spec in FEATURES.values()
        if not spec.choices and spec.name not in given
    ]
    if switches:
        turned_on = ask_switches(switches)
        chosen.update({spec.name: spec.name in turned_on for spec in switches})
        asked = True
    for spec in FEATURES.values():
        if spec.choices and spec.name not in given:
            chosen[spec.name], asked = ask_choice(spec.name), True
    if output_dir is None:
        output_dir, asked = ask_output_dir(name), True
    answers = Answers(Options(name=name, **chosen), output_dir)
    if not asked:  # everything came from flags: nothing to confirm
        return answers
    print(summary(answers))
    return answers if confirm("Write it?") else None


def ask_name() -> str:
    """The project name, re-asked with the flag's own error until it is valid."""
    return questionary.text(
        "Project name (also the Python package):", validate=name_problem
    ).unsafe_ask()


def name_problem(text: str) -> bool | str:
    """True for a valid name, else the error `scaffold new NAME` would print."""
    try:
        validate_name(text)
    except InvalidOption as error:
        return str(error)
    return True


def ask_task() -> str:
    width = max(len(name) for name in TASKS)
    return questionary.select(
        "What does it learn?",
        choices=[
            Choice(f"{task.name:<{width}}  {task.summary}", value=task.name)
            for task in TASKS.values()
        ],
        default=DEFAULT_TASK,
    ).unsafe_ask()


def ask_data(kinds: list[DataSpec], default: str) -> str:
    width = max(len(kind.name) for kind in kinds)
    return questionary.select(
        "What does it train on?",
        choices=[
            Choice(f"{kind.name:<{width}}  {kind.summary}", value=kind.name)
            for kind in kinds
        ],
        default=default,
    ).unsafe_ask()


def ask_metrics(task: TaskSpec) -> list[str]:
    specs = [spec for spec in METRICS.values() if task.name in spec.tasks]
    width = max(len(spec.name) for spec in specs)
    return questionary.checkbox(
        "Metrics (space toggles, enter accepts):",
        choices=[
            Choice(
                f"{spec.name:<{width}}  {spec.summary}",
                value=spec.name,
                checked=spec.name in task.metrics,
            )
            for spec in specs
        ],
        validate=metrics_problem,
    ).unsafe_ask()


def metrics_problem(names: list[str]) -> bool | str:
    try:
        normalize_metrics(names)
    except InvalidOption as error:
        return str(error)
    return True


def ask_switches(specs: list[FeatureSpec]) -> list[str]:
    """The on/off features to turn on, those that add files listed first, as
    `scaffold list` lists them."""
    width = max(len(spec.name) for spec in specs)
    choices: list[Choice | Separator] = []
    for render_time, heading in (
        (True, "-- add files to the project --"),
        (False, "-- decided when it runs, only recorded --"),
    ):
        group = [spec for spec in specs if spec.render_time == render_time]
        if group:
            choices.append(Separator(heading))
        choices.extend(
            Choice(
                f"{spec.name:<{width}}  {spec.summary}",
                value=spec.name,
                checked=bool(DEFAULTS[spec.name]),
            )
            for spec in group
        )
    return questionary.checkbox(
        "Features (space toggles, enter accepts):", choices=choices
    ).unsafe_ask()


def ask_choice(name: str) -> str:
    spec = FEATURES[name]
    return questionary.select(
        f"{name.capitalize()}: {spec.summary}",
        choices=list(spec.choices),
        default=DEFAULTS[name],
    ).unsafe_ask()


def ask_output_dir(name: str) -> Path:
    folder = questionary.path(
        f"Create {name}/ in which folder?", default=".", only_directories=True
    ).unsafe_ask()
    return Path(folder or ".").expanduser()  # typed here, ~ meets no shell


def confirm(question: str) -> bool:
    return questionary.confirm(question, default=True).unsafe_ask()


def summary(answers: Answers) -> str:
    """What `new` is about to write, one option a line."""
    options = answers.options
    switches = [
        spec.name
        for spec in FEATURES.values()
        if not spec.choices and getattr(options, spec.name)
    ]
    rows = [
        ("name", options.name),
        ("task", options.task),
        ("data", options.data),
        ("metrics", ", ".join(options.metrics)),
        ("features", ", ".join(switches) or "none"),
        *(
            (spec.name, getattr(options, spec.name))
            for spec in FEATURES.values()
            if spec.choices
        ),
        ("writes", str(answers.output_dir / options.name)),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)
