"""The command line: parses, reports and exits. The work happens in the modules it calls."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scaffold import __version__
from scaffold.errors import ScaffoldError
from scaffold.options import Options, parse_metrics
from scaffold.project import create
from scaffold.registry import DEFAULT_METRICS, FEATURES, METRICS

app = typer.Typer(
    help="Write a small, self-contained PyTorch training project that you own.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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


def fail(error: ScaffoldError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=1)


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
    name: Annotated[
        str, typer.Argument(help="Project and package name, e.g. mytrainer.")
    ],
    metrics: MetricsOption = None,
    cuda: CudaOption = None,
    output_dir: Annotated[
        Path,
        typer.Option(
            "--output-dir",
            "-o",
            help="Where to create the project folder.",
            file_okay=False,
        ),
    ] = Path("."),
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write into a non-empty folder; files you added are kept."
        ),
    ] = False,
) -> None:
    """Create a new training project NAME in OUTPUT_DIR/NAME."""
    try:
        options = Options(
            name=name,
            metrics=parse_metrics(metrics) if metrics is not None else DEFAULT_METRICS,
            cuda=bool(cuda),
        )
        root = create(options, output_dir, force=force)
    except ScaffoldError as error:
        raise fail(error) from None
    typer.echo(f"created {root}")
    typer.echo(f"train it:  cd {root} && python -m {name}.train --epochs 5")


@app.command("list")
def list_choices() -> None:
    """List the metrics and options `new` offers, one line each."""
    typer.echo("metrics (--metrics a,b,...):")
    width = max(len(name) for name in METRICS)
    for spec in METRICS.values():
        default = "  [default]" if spec.name in DEFAULT_METRICS else ""
        typer.echo(f"  {spec.name:<{width}}  {spec.summary}{default}")
    typer.echo("options:")
    width = max(len(name) for name in FEATURES)
    for spec in FEATURES.values():
        flag = "--" + spec.name.replace("_", "-")
        typer.echo(f"  {flag:<{width + 2}}  {spec.summary}")
