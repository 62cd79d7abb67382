"""The options that choose training features: what `scaffold new`, `list`, `--help`
and `update` say, record and write for each. What each feature does in a short run
is in test_run_features.py; exact resume in test_run_resume.py.
"""

from __future__ import annotations

import ast
import json
import re

import pytest
from typer.testing import CliRunner

from scaffold.cli import app
from scaffold.options import Options
from scaffold.project import RECORD_FILE, create, read_record
from scaffold.registry import FEATURES, SCHEDULERS
from scaffold.render import render

runner = CliRunner()


def test_list_and_help_describe_every_feature():
    listed = runner.invoke(app, ["list"]).output
    helped = " ".join(
        runner.invoke(app, ["new", "--help"], terminal_width=200).output.split()
    )
    for name in FEATURES:
        flag = "--" + name.replace("_", "-")
        assert re.search(
            rf"^  {flag}\b.* {re.escape(FEATURES[name].summary)}$", listed, re.MULTILINE
        ), flag
        assert flag in helped
    assert "--scheduler onecycle|cosine|step|none" in listed


def argparse_default(config_source: str, flag: str):
    """The default= of `parser.add_argument(flag, ...)` in a config.py's source."""
    for node in ast.walk(ast.parse(config_source)):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == flag
        ):
            [default] = [k.value for k in node.keywords if k.arg == "default"]
            return ast.literal_eval(default)
    raise AssertionError(f"config.py defines no {flag}")


def test_new_records_the_features_and_generates_only_their_files(tmp_path):
    result = runner.invoke(
        app,
        [
            "new",
            "mytrainer",
            "-o",
            str(tmp_path),
            "--checkpoint",
            "--scheduler",
            "cosine",
            "--plot",
        ],
    )
    assert result.exit_code == 0, result.output
    root = tmp_path / "mytrainer"
    options = read_record(root).options
    chosen = (options.checkpoint, options.scheduler, options.plot)
    assert chosen == (True, "cosine", True)
    assert (
        options.early_stopping,
        options.amp,
        options.progress,
        options.tensorboard,
    ) == (False,) * 4
    handlers = sorted(p.name for p in (root / "mytrainer/handlers").iterdir())
    assert handlers == [
        "__init__.py",
        "checkpoint.py",
        "history.py",
        "nan_guard.py",
        "plot.py",
    ]
    config = (root / "mytrainer/config.py").read_text()
    assert argparse_default(config, "--scheduler") == "cosine"
    pyproject = (root / "pyproject.toml").read_text()
    assert (
        '"matplotlib>=3.7"' in pyproject
        and "tqdm" not in pyproject
        and "tensorboard" not in pyproject
    )


def test_a_bad_scheduler_is_a_one_line_error_and_writes_nothing(tmp_path):
    result = runner.invoke(
        app, ["new", "mytrainer", "-o", str(tmp_path), "--scheduler", "linear"]
    )
    assert result.exit_code == 1
    assert (
        result.output.strip()
        == "error: unknown scheduler 'linear'; choose from onecycle, cosine, step, none"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_record_without_the_feature_fields_loads_with_their_defaults(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    record = json.loads((root / RECORD_FILE).read_text())
    record["options"] = {
        "name": "mytrainer",
        "metrics": ["accuracy", "nll"],
        "cuda": False,
    }
    (root / RECORD_FILE).write_text(json.dumps(record))
    assert read_record(root).options == Options(name="mytrainer")


def test_update_adds_a_feature_and_its_dependency(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    result = runner.invoke(
        app, ["update", str(root), "--progress", "--scheduler", "step"]
    )
    assert result.exit_code == 0, result.output
    assert read_record(root).options == Options(
        name="mytrainer", progress=True, scheduler="step"
    )
    assert (root / "mytrainer/handlers/progress.py").is_file()
    assert '"tqdm>=4.66"' in (root / "pyproject.toml").read_text()
    config = (root / "mytrainer/config.py").read_text()
    assert argparse_default(config, "--scheduler") == "step"


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_project_holds_every_schedule_and_defaults_to_the_recorded_one(
    scheduler,
):
    files = render(Options(name="mytrainer", scheduler=scheduler))
    reference = render(Options(name="mytrainer", scheduler=SCHEDULERS[0]))
    assert files["mytrainer/train.py"] == reference["mytrainer/train.py"]
    assert argparse_default(files["mytrainer/config.py"], "--scheduler") == scheduler


@pytest.mark.parametrize("option", ["cuda", "amp", "distributed"])
def test_a_run_time_option_is_recorded_but_renders_the_same_files(option):
    # Every project decides these when it runs (--device, --amp, torchrun): see the
    # amp runs below, test_cuda.py and test_distributed.py.
    assert render(Options(name="mytrainer", **{option: True})) == render(
        Options(name="mytrainer")
    )
