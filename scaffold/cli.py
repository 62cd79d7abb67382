"""The command line: parses, reports and exits. The work happens in the modules it calls."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from scaffold import __version__
from scaffold.errors import ScaffoldError
from scaffold.options import Options, parse_metrics
from scaffold.project import create, recover_interrupted_new, train_command
from scaffold.prompts import Answers, ask_new, can_ask
from scaffold.registry import (
    DATA_KINDS,
    DEFAULT_DATA,
    DEFAULT_METRICS,
    FEATURES,
    METRICS,
    SCHEDULERS,
)
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

DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        help=f"What the project trains on: {', '.join(DATA_KINDS)}. "
        f"Default: {DEFAULT_DATA}. See `scaffold list`.",
        show_default=False,
    ),
]
MetricsOption = Annotated[
    str | None,
    typer.Option(
        "--metrics",
        help=f"Comma list of metrics ({', '.join(METRICS)}); "
        f"default {','.join(DEFAULT_METRICS)}. See `scaffold list`.",
        show_default=False,
    ),
]
CudaOption = Annotated[
    bool | None,
    typer.Option(
        "--cuda/--no-cuda",
        help="Train on a GPU when one is present. Default: --no-cuda.",
        show_default=False,
    ),
]
DistributedOption = Annotated[
    bool | None,
    typer.Option(
        "--distributed/--no-distributed",
        help="Train on several processes or machines with torchrun (DDP). "
        "Default: --no-distributed.",
        show_default=False,
    ),
]


def feature_flag(name: str) -> Any:
    """An on/off option of a FEATURES entry; unset (None) keeps the default or record."""
    flag = name.replace("_", "-")
    return typer.Option(
        f"--{flag}/--no-{flag}",
        help=f"{FEATURES[name].summary[0].upper()}{FEATURES[name].summary[1:]}. "
        f"Default: --no-{flag}.",
        show_default=False,
    )


CheckpointOption = Annotated[bool | None, feature_flag("checkpoint")]
EarlyStoppingOption = Annotated[bool | None, feature_flag("early_stopping")]
AmpOption = Annotated[bool | None, feature_flag("amp")]
ProgressOption = Annotated[bool | None, feature_flag("progress")]
TensorboardOption = Annotated[bool | None, feature_flag("tensorboard")]
PlotOption = Annotated[bool | None, feature_flag("plot")]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help=f"Learning-rate schedule: {', '.join(SCHEDULERS)}. "
        f"Default: {SCHEDULERS[0]}.",
        show_default=False,
    ),
]


def fail(error: ScaffoldError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


def interrupted(left: str) -> typer.Exit:
    """Ctrl-C: one line saying what it left; 130, as shells report SIGINT."""
    typer.echo(f"error: interrupted; {left}", err=True)
    return typer.Exit(code=130)


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
def new(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Project and package name, e.g. mytrainer; asked for in a terminal.",
            show_default=False,
        ),
    ] = None,
    data: DataOption = None,
    metrics: MetricsOption = None,
    cuda: CudaOption = None,
    distributed: DistributedOption = None,
    checkpoint: CheckpointOption = None,
    early_stopping: EarlyStoppingOption = None,
    scheduler: SchedulerOption = None,
    amp: AmpOption = None,
    progress: ProgressOption = None,
    tensorboard: TensorboardOption = None,
    plot: PlotOption = None,
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
            option_changes(
                data=data,
                metrics=metrics,
                cuda=cuda,
                distributed=distributed,
                checkpoint=checkpoint,
                early_stopping=early_stopping,
                scheduler=scheduler,
                amp=amp,
                progress=progress,
                tensorboard=tensorboard,
                plot=plot,
            ),
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
    """List the data kinds, metrics and options `new` offers, one line each."""
    typer.echo("data (--data KIND):")
    width = max(len(name) for name in DATA_KINDS)
    for kind in DATA_KINDS.values():
        default = "  [default]" if kind.name == DEFAULT_DATA else ""
        typer.echo(f"  {kind.name:<{width}}  {kind.summary}{default}")
    typer.echo("metrics (--metrics a,b,...):")
    width = max(len(name) for name in METRICS)
    for spec in METRICS.values():
        default = "  [default]" if spec.name in DEFAULT_METRICS else ""
        typer.echo(f"  {spec.name:<{width}}  {spec.summary}{default}")
    flags = {
        name: f"--{name.replace('_', '-')}"
        + (f" {'|'.join(spec.choices)}" if spec.choices else "")
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


def option_changes(
    metrics: str | None = None, **flags: bool | str | None
) -> dict[str, Any]:
    """The options given on the command line, parsed; one left unset is absent.

    `update` applies these to the recorded options, so an unset option keeps its
    recorded value.
    """
    changes: dict[str, Any] = {name: on for name, on in flags.items() if on is not None}
    if metrics is not None:
        changes["metrics"] = parse_metrics(metrics)
    return changes


@app.command()
def update(
    path: ProjectPath = Path("."),
    data: DataOption = None,
    metrics: MetricsOption = None,
    cuda: CudaOption = None,
    distributed: DistributedOption = None,
    checkpoint: CheckpointOption = None,
    early_stopping: EarlyStoppingOption = None,
    scheduler: SchedulerOption = None,
    amp: AmpOption = None,
    progress: ProgressOption = None,
    tensorboard: TensorboardOption = None,
    plot: PlotOption = None,
) -> None:
    """Merge the installed templates into PATH, keeping your edits.

    Every generated file is rendered again and merged with your version of it.
    Options given here replace the recorded ones; the others keep their values.
    Exits 1 when some of your edits overlap template changes (see the marked blocks).
    """
    left = "nothing was changed"
    try:
        changes = option_changes(
            data=data,
            metrics=metrics,
            cuda=cuda,
            distributed=distributed,
            checkpoint=checkpoint,
            early_stopping=early_stopping,
            scheduler=scheduler,
            amp=amp,
            progress=progress,
            tensorboard=tensorboard,
            plot=plot,
        )
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


@app.command()
def diff(
    path: ProjectPath = Path("."),
    data: DataOption = None,
    metrics: MetricsOption = None,
    cuda: CudaOption = None,
    distributed: DistributedOption = None,
    checkpoint: CheckpointOption = None,
    early_stopping: EarlyStoppingOption = None,
    scheduler: SchedulerOption = None,
    amp: AmpOption = None,
    progress: ProgressOption = None,
    tensorboard: TensorboardOption = None,
    plot: PlotOption = None,
) -> None:
    """Show what `update` would change in PATH as a diff; writes nothing.

    Takes the options `update` takes, to preview changing them.
    """
    try:
        changes = option_changes(
            data=data,
            metrics=metrics,
            cuda=cuda,
            distributed=distributed,
            checkpoint=checkpoint,
            early_stopping=early_stopping,
            scheduler=scheduler,
            amp=amp,
            progress=progress,
            tensorboard=tensorboard,
            plot=plot,
        )
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
