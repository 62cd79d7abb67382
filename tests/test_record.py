"""The record file, .scaffold.json: what `update`, `diff` and `check` accept in it.

A record holding a wrong type or a newer scaffold's version is refused with one
line naming the field or both versions, and the project is left untouched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scaffold import __version__
from scaffold.cli import app
from scaffold.errors import InvalidOption
from scaffold.options import Options
from scaffold.project import RECORD_FILE, create, parse_version

PACKAGE = "mytrainer"
COMMANDS = ("update", "diff", "check")

runner = CliRunner()


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, bytes]:
    return snapshot(create(Options(PACKAGE), tmp_path_factory.mktemp("made")))


@pytest.fixture
def project(made, tmp_path) -> Path:
    for path, data in made.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    return tmp_path


def edit_record(root: Path, edit) -> None:
    record = json.loads((root / RECORD_FILE).read_text())
    edit(record)
    (root / RECORD_FILE).write_text(json.dumps(record))


def refused(root: Path, command: str):
    before = snapshot(root)
    result = runner.invoke(app, [command, str(root)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert snapshot(root) == before
    return result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_a_project_from_a_newer_scaffold_is_refused_naming_both_versions(
    project, command
):
    edit_record(project, lambda r: r.update(scaffold_version="99.0.1"))

    assert refused(project, command) == (
        f"error: {project} was written by scaffold 99.0.1, newer than this scaffold "
        f"{__version__}; upgrade scaffold to update it\n"
    )


@pytest.mark.parametrize("version", ["0.0.9", "0.1.0rc1", "0.1", __version__])
def test_a_project_from_an_older_or_the_same_scaffold_updates(project, version):
    edit_record(project, lambda r: r.update(scaffold_version=version))

    result = runner.invoke(app, ["update", str(project)])

    assert result.exit_code == 0, result.output
    assert json.loads((project / RECORD_FILE).read_text())["scaffold_version"] == (
        __version__
    )


@pytest.mark.parametrize("packaging", [True, False], ids=["packaging", "fallback"])
def test_versions_compare_as_versions_not_as_text(monkeypatch, packaging):
    if not packaging:  # as where packaging is not installed
        monkeypatch.setitem(sys.modules, "packaging.version", None)
    ordered = ["0.1.0", "0.2.0rc1", "0.2.0", "0.9.0", "0.10.0", "1.0.0"]
    keys = [parse_version(v) for v in ordered]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert parse_version("0.2") == parse_version("0.2.0")
    with pytest.raises(ValueError, match="'banana' is not a version"):
        parse_version("banana")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "metrics",
            "accuracy",
            "option 'metrics' must be a list of strings, not \"accuracy\"",
        ),
        (
            "metrics",
            ["accuracy", 1],
            "option 'metrics' must be a list of strings, not [\"accuracy\", 1]",
        ),
        ("cuda", "yes", "option 'cuda' must be true or false, not \"yes\""),
        ("cuda", 1, "option 'cuda' must be true or false, not 1"),
        ("scheduler", None, "option 'scheduler' must be a string, not null"),
        ("name", 7, "option 'name' must be a string, not 7"),
    ],
)
def test_a_wrongly_typed_option_is_refused_naming_the_field(
    project, field, value, message
):
    edit_record(project, lambda r: r["options"].update({field: value}))

    for command in COMMANDS:
        assert refused(project, command) == (
            f"error: {project / RECORD_FILE} is corrupt ({message}); "
            "restore it from version control\n"
        )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["options"].pop("name"), "option 'name' is missing"),
        (lambda r: r.update(options=[]), "'options' must be an object, not []"),
        (lambda r: r.update(scaffold_version=1), "'scaffold_version' must be a string"),
        (lambda r: r.update(scaffold_version="banana"), "'banana' is not a version"),
        (
            lambda r: r.pop("templates_fingerprint"),
            "'templates_fingerprint' is missing",
        ),
    ],
    ids=["no-name", "options-list", "version-number", "version-text", "no-fingerprint"],
)
def test_a_malformed_record_is_refused_saying_what_is_wrong(project, edit, message):
    edit_record(project, edit)

    assert message in refused(project, "update")


def test_a_record_that_is_not_an_object_is_refused(project):
    (project / RECORD_FILE).write_text("[1, 2]")

    assert "is corrupt (expected a JSON object)" in refused(project, "check")


def test_from_record_reads_what_to_record_wrote():
    options = Options(PACKAGE, metrics=("nll", "topk"), cuda=True, scheduler="cosine")

    assert Options.from_record(json.loads(json.dumps(options.to_record()))) == options
    with pytest.raises(InvalidOption, match="option 'amp' must be true or false"):
        Options.from_record({"name": PACKAGE, "amp": "false"})


def test_an_unreadable_project_file_is_one_line(project, monkeypatch):
    edit_record(project, lambda r: r["options"].update(metrics=["nll"]))
    before = snapshot(project)
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "net.py" and ".scaffold" not in self.parts:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", read_bytes)
        result = runner.invoke(app, ["update", str(project)])

    assert result.exit_code == 1
    assert result.stderr == (
        "error: cannot read the project ([Errno 13] Permission denied: "
        f"'{project / PACKAGE / 'model' / 'net.py'}')\n"
    )
    assert snapshot(project) == before
