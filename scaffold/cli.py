"""The command line: parses, reports and exits. The work happens in the modules it calls."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from scaffold import __version__
from scaffold.errors import ScaffoldError
from scaffold.options import Options, parse_metrics
from scaffold.project import create, recover_interrupted_new, train_command
from scaffold.prompts import Answers, ask_new, can_ask
from scaffold.registry import DATA_KINDS, DEFAULT_TASK, FEATURES, METRICS, TASKS
from scaffold.transaction import interrupts_held
from scaffold.update import (
    ACTIONS,
    Plan,
    apply,
    plan_update,
    recover_interrupted,
    unified_diff,
)

app = typer.Typer(
    help="Write a small, self-contained PyTorch training project that you own.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's plain help: the rich panels print a type even for flags ("--help <bool>").
    rich_markup_mode=None,
)


# The heading of the name check's findings (scaffold/names.py) in a report.
PROBLEMS = (
    "your files (a side of a conflict counted as yours) use names that are no "
    "longer there"
)


def fail(error: ScaffoldError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


def interrupted(left: str) -> typer.Exit:
    """Ctrl-C: one line saying what it left; 130, as shells report SIGINT."""
    typer.echo(f"error: interrupted; {left}", err=True)
    return typer.Exit(code=130)


def option_parameters(defaults: bool) -> list[inspect.Parameter]:
    """The options `new`, `update` and `diff` share, from the registry: --task,
    --data, --metrics and one per FeatureSpec, as keyword parameters that Typer reads.

    Each is None when not given: `new` then takes the default (or asks, in a
    terminal), `update` and `diff` the recorded value. With `defaults`, a help text
    names the default; a run-time switch's does not, the choice being only recorded.
    """

    def option(name: str, kind: type, flags: str, text: str, default: str | None):
        if defaults and default is not None:
            text = f"{text} Default: {default}."
        annotation = Annotated[
            kind | None, typer.Option(flags, help=text, show_default=False)
        ]
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
        )

    options = [
        option(
            "task",
            str,
            "--task",
            f"What the project learns: {', '.join(TASKS)}. A project keeps its task.",
            DEFAULT_TASK,
        ),
        option(
            "data",
            str,
            "--data",
            f"What the project trains on: {', '.join(DATA_KINDS)}. "
            "See `scaffold list`.",
            ", ".join(f"{t.data} for {t.name}" for t in TASKS.values()),
        ),
        option(
            "metrics",
            str,
            "--metrics",
            f"Comma list of metrics ({', '.join(METRICS)}). See `scaffold list`.",
            ", ".join(f"{','.join(t.metrics)} for {t.name}" for t in TASKS.values()),
        ),
    ]
    # Those that add files first, as `scaffold list` and the questions show them.
    for spec in sorted(FEATURES.values(), key=lambda spec: not spec.render_time):
        if spec.choices:
            options.append(option(spec.name, str, spec.flag, spec.help, spec.default))
            continue
        on, off = spec.flag, f"--no-{spec.flag.removeprefix('--')}"
        default = (on if spec.default else off) if spec.render_time else None
        options.append(option(spec.name, bool, f"{on}/{off}", spec.help, default))
    return options


def with_options(
    *, defaults: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the registry's options (option_parameters) in place of its
    keyword parameter `changes`, which receives those given, parsed (option_changes).

    Typer reads a command's parameters from inspect.signature: the wrapper's
    signature is the command's with the options where `changes` stood.
    """
    options = option_parameters(defaults)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        if "changes" not in signature.parameters:
            raise TypeError(f"{command.__name__} takes no `changes` parameter")
        parameters = []
        for parameter in signature.parameters.values():
            parameters.extend(options if parameter.name == "changes" else [parameter])

        @functools.wraps(command)
        def with_changes(**kwargs: Any) -> Any:
            given = {option.name: kwargs.pop(option.name) for option in options}
            try:
                changes = option_changes(given)
            except ScaffoldError as error:
                raise fail(error) from None
            return command(**kwargs, changes=changes)

        with_changes.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=parameters
        )
        return with_changes

    return decorate


def option_changes(given: dict[str, Any]) -> dict[str, Any]:
    """The options given on the command line, parsed; one left unset (None) is absent.

    `update` applies these to the recorded options, so an unset option keeps its
    recorded value.
    """
    changes = {name: value for name, value in given.items() if value is not None}
    if "metrics" in changes:
        changes["metrics"] = parse_metrics(changes["metrics"])
    return changes


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"scaffold {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=version_callback,
            is_eager=True,
            help="Show the version.",
        ),
    ] = False,
) -> None:
    """Write a small, self-contained PyTorch training project that you own."""


@app.command()
@with_options(defaults=True)
def new(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Project and package name, e.g. mytrainer; asked for in a terminal.",
            show_default=False,
        ),
    ] = None,
    *,
    changes: dict[str, Any],  # the registry's options given (with_options)
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Where to create the project folder. Default: the current folder.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write into a non-empty folder; files you added are kept."
        ),
    ] = False,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input",
            help="Ask nothing, even in a terminal (never asked when stdin is not one).",
        ),
    ] = False,
) -> None:
    """Create a new training project NAME in OUTPUT_DIR/NAME.

    In a terminal, asks for NAME, the options and the folder not given as flags.
    """
    left = "nothing was changed"
    try:
        # Options left unset take the defaults of Options itself.
        options, output_dir = choose(
            ctx,
            name,
            changes,
            output_dir,
            no_input,
        )
        with interrupts_held() as held:
            note = recover_interrupted_new(output_dir, options.name)
            if note:
                typer.echo(note)
                left = "nothing else was changed"
            # A Ctrl-C while writing undoes it; one after is only reported.
            root = create(options, output_dir, force=force)
            left = f"{root} had already been written"
        if held.requested:
            raise KeyboardInterrupt
        typer.echo(f"created {root}")
        typer.echo(f"train it: {train_command(options, root)}")
    except ScaffoldError as error:
        raise fail(error) from None
    except OSError as error:
        raise fail(ScaffoldError(str(error))) from None
    except KeyboardInterrupt:
        raise interrupted(left) from None


def choose(
    ctx: typer.Context,
    name: str | None,
    changes: dict[str, Any],
    output_dir: Path | None,
    no_input: bool,
) -> Answers:
    """What `new` writes where: the flags, and in a terminal the answers to
    questions about what they left out."""
    if can_ask(no_input):
        answers = ask_new(name, changes, output_dir)
        if answers is None:
            typer.echo("nothing was written")
            raise typer.Exit(code=1)
        return answers
    if name is None:
        raise missing_argument(ctx, "name")
    return Answers(Options(name=name, **changes), output_dir or Path("."))


def missing_argument(ctx: typer.Context, name: str) -> Exception:
    """The usage error (exit 2) Typer gives for a required argument left out: the
    one `new` gave outside a terminal when NAME was required."""
    param = next(p for p in ctx.command.params if p.name == name)
    param.required = True  # so the usage line shows it as required, as it was
    # Typer >= 0.20 vendors click: the exception must be the one it catches.
    exceptions = importlib.import_module(typer.BadParameter.__module__)
    return exceptions.MissingParameter(ctx=ctx, param=param)


@app.command("list")
def list_choices() -> None:
    """List the tasks, data kinds, metrics and options `new` offers, one line each;
    data kinds and metrics under the tasks they serve."""
    typer.echo("tasks (--task TASK):")
    width = max(len(name) for name in TASKS)
    for task in TASKS.values():
        default = "  [default]" if task.name == DEFAULT_TASK else ""
        typer.echo(f"  {task.name:<{width}}  {task.summary}{default}")
    for task in TASKS.values():
        kinds = [kind for kind in DATA_KINDS.values() if kind.task == task.name]
        typer.echo(f"data of {task.name} (--data KIND):")
        width = max(len(kind.name) for kind in kinds)
        for kind in kinds:
            default = "  [default]" if kind.name == task.data else ""
            typer.echo(f"  {kind.name:<{width}}  {kind.summary}{default}")
        specs = [spec for spec in METRICS.values() if task.name in spec.tasks]
        typer.echo(f"metrics of {task.name} (--metrics a,b,...):")
        width = max(len(spec.name) for spec in specs)
        for spec in specs:
            default = "  [default]" if spec.name in task.metrics else ""
            typer.echo(f"  {spec.name:<{width}}  {spec.summary}{default}")
    flags = {
        name: spec.flag + (f" {'|'.join(spec.choices)}" if spec.choices else "")
        for name, spec in FEATURES.items()
    }
    width = max(len(flag) for flag in flags.values())
    for render_time, heading in (
        (True, "options that add files (`scaffold update` adds or removes them):"),
        (False, "options every project has, decided when it runs (recorded only):"),
    ):
        typer.echo(heading)
        for spec in FEATURES.values():
            if spec.render_time == render_time:
                typer.echo(f"  {flags[spec.name]:<{width}}  {spec.summary}")


ProjectPath = Annotated[
    Path,
    typer.Argument(help="The project folder (default: the current folder)."),
]


@app.command()
@with_options()
def update(path: ProjectPath = Path("."), *, changes: dict[str, Any]) -> None:
    """Merge the installed templates into PATH, keeping your edits.

    Every generated file is rendered again and merged with your version of it.
    Options given here replace the recorded ones; the others keep their values.
    Exits 1 when some of your edits overlap template changes (see the marked blocks).
    """
    left = "nothing was changed"
    try:
        # Putting back what a killed update left half-swapped is never cut short.
        with interrupts_held() as held:
            note = recover_interrupted(path)
            if note:
                typer.echo(note)
                left = "nothing else was changed"
        if held.requested:
            raise KeyboardInterrupt
        plan = plan_update(path, changes)
        if plan.up_to_date:
            typer.echo("already up to date")
            return
        # A Ctrl-C while writing undoes the update; one after it is only reported.
        with interrupts_held() as held:
            apply(plan)
            left = "the update had already been written"
        if held.requested:
            raise KeyboardInterrupt
        report(plan)
    except ScaffoldError as error:
        raise fail(error) from None
    except OSError as error:
        raise fail(ScaffoldError(str(error))) from None
    except KeyboardInterrupt:
        raise interrupted(left) from None
    if plan.conflicts:
        typer.echo(f"error: {plan.conflict_message()}", err=True)
        raise typer.Exit(code=1)


def report(plan: Plan) -> None:
    typer.echo(f"updated {plan.root} (templates {plan.record.templates_fingerprint})")
    for action, meaning in ACTIONS.items():
        changes = [c for c in plan.changes if c.action == action]
        if changes:
            typer.echo(f"{action}: {meaning}")
        for change in changes:
            beside = f" -> {change.target}" if change.target != change.path else ""
            typer.echo(f"  {change.path}{beside}")
    report_problems(plan)


def report_problems(plan: Plan) -> None:
    """What the files the user edited or wrote now name that is not there."""
    if plan.problems:
        typer.echo(f"names to fix: {PROBLEMS}")
    for problem in plan.problems:
        typer.echo(f"  {problem}")


@app.command()
@with_options()
def diff(path: ProjectPath = Path("."), *, changes: dict[str, Any]) -> None:
    """Show what `update` would change in PATH as a diff; writes nothing.

    Takes the options `update` takes, to preview changing them.
    """
    try:
        plan = plan_update(path, changes)
        typer.echo(unified_diff(plan), nl=False)
    except ScaffoldError as error:
        raise fail(error) from None
    except OSError as error:
        raise fail(ScaffoldError(str(error))) from None
    except KeyboardInterrupt:
        raise interrupted("nothing was changed") from None
    if plan.up_to_date:
        typer.echo("already up to date", err=True)


@app.command()
def check(path: ProjectPath = Path(".")) -> None:
    """Exit 0 when PATH is current with the installed templates, 1 when behind (for CI)."""
    try:
        plan = plan_update(path)
    except ScaffoldError as error:
        raise fail(error) from None
    if not plan.up_to_date:
        typer.echo(f"behind: {plan.summary()}; run `scaffold update`")
        raise typer.Exit(code=1)
    if plan.problems:
        report_problems(plan)
        raise typer.Exit(code=1)
    typer.echo("up to date")


@app.command()
def ui(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A project to preview and apply updates to; none: a new project.",
            show_default=False,
        ),
    ] = None,
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output-dir",
            "-o",
            help="Where Create writes NAME/ (the page chooses only the name).",
        ),
    ] = Path("."),
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1; 0: a free one.")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address only.")
    ] = False,
) -> None:
    """Choose options in a local web page: it shows the generated files, creates
    the project, or previews and applies an update of PATH."""
    import webbrowser

    from scaffold.ui.server import serve, start

    try:
        server = start(output_dir, path, port)
    except ScaffoldError as error:
        raise fail(error) from None
    typer.echo(f"scaffold ui: {server.url}")
    typer.echo("Ctrl-C stops it.")
    if not no_browser:
        webbrowser.open(server.url)
    serve(server)
