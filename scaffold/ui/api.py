"""What the page can ask for. Each function takes a request's JSON object and
returns JSON-able data (the download: bytes), raising ScaffoldError for a one-line
error that the page shows.

Writes go through the functions `scaffold new` and `scaffold update` call, into
the folders given on the command line only: Create into --output-dir (the page
chooses just the project name, which cannot hold a path), Update into PATH.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from scaffold.errors import InvalidOption, ScaffoldError
from scaffold.options import Options
from scaffold.project import (
    bookkeeping_files,
    create,
    current_record,
    read_record,
    recover_interrupted_new,
    train_command,
)
from scaffold.registry import DATA_KINDS, FEATURES, METRICS, TASKS
from scaffold.render import render
from scaffold.update import (
    ACTIONS,
    Plan,
    apply,
    plan_update,
    recover_interrupted,
    unified_diff,
)

# The name a new project's page starts with (the README's example).
EXAMPLE_NAME = "mytrainer"


class PathRefused(ScaffoldError):
    """A file path from the page that is not a plain path inside the project."""


@dataclass(frozen=True)
class Workspace:
    """Where this server may write: Create into output_dir, Update into project."""

    output_dir: Path
    project: Path | None = None


def open_workspace(output_dir: Path, project: Path | None) -> Workspace:
    """The workspace, refusing a PATH that holds no readable scaffold project."""
    if project is not None:
        read_record(project)  # NotAProject, with its remedy, before the page opens
    return Workspace(output_dir.resolve(), project and project.resolve())


def schema(workspace: Workspace) -> dict[str, Any]:
    """Everything the page builds its form from: the registry, and the options to
    start with (a project's recorded ones, else the defaults)."""
    if workspace.project is not None:
        options = read_record(workspace.project).options.to_record()
    else:
        options = Options(name=EXAMPLE_NAME).to_record()
    return {
        "mode": "update" if workspace.project else "new",
        "project": workspace.project and str(workspace.project),
        "output_dir": str(workspace.output_dir),
        "options": options,
        "tasks": [
            {
                "name": task.name,
                "summary": task.summary,
                "data": task.data,
                "metrics": list(task.metrics),
            }
            for task in TASKS.values()
        ],
        "data": [
            {"name": kind.name, "summary": kind.summary, "task": kind.task}
            for kind in DATA_KINDS.values()
        ],
        "metrics": [
            {"name": spec.name, "summary": spec.summary, "tasks": list(spec.tasks)}
            for spec in METRICS.values()
        ],
        "features": [
            {
                "name": spec.name,
                "summary": spec.summary,
                "render_time": spec.render_time,
                "why": spec.why,
                "choices": list(spec.choices),
            }
            for spec in FEATURES.values()
        ],
        "actions": ACTIONS,
    }


def requested_options(body: dict[str, Any]) -> Options:
    """body["options"], checked as a record file's options are, then as flags are."""
    return Options.from_record(body.get("options"))


def project_path(text: Any) -> str:
    """A path the page names, if it is a plain relative path that stays inside the
    project: no `..`, no absolute or drive path, no backslash, in canonical form."""
    if not isinstance(text, str) or not text:
        raise PathRefused("a file path must be a non-empty string")
    posix = PurePosixPath(text)
    if (
        posix.is_absolute()
        or PureWindowsPath(text).drive
        or "\\" in text
        or "\0" in text
        or ".." in posix.parts
        or str(posix) != text
    ):
        raise PathRefused(f"{text!r} is not a path inside the project")
    return text


# What the code pane says of a file in update mode, by where its text comes from:
# what the file holds after the update, not the template, so an edit stays in view.
PROJECT_VIEWS = {
    "yours": "your file: update leaves it as it is",
    "merged": "your file after update: your edits with the template changes merged",
    "moved": "your file after update, at its new path, your edits merged",
    "conflicted": "your file after update: resolve the blocks between <<<<<<< "
    "and >>>>>>>",
    "updated": "after update: the template's new version (you had not edited it)",
    "created": "after update: new in the templates",
    "deleted": "deleted in your project, and update leaves it so: the template's "
    "version",
    "skipped": "not plain text in your project, so update leaves it and writes this "
    "version beside it",
}


def preview(workspace: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """The rendered file list and one file's text (body["path"], else train.py);
    with body["all"], every file's text. In update mode, that file as the project
    would hold it after the update, labelled, and the update's plan."""
    wanted = body.get("path")
    selected = project_path(wanted) if wanted is not None else None
    options = requested_options(body)
    files = render(options)
    if selected not in files:  # none asked, or one these options do not generate
        train = f"{options.name}/train.py"
        selected = train if train in files else next(iter(files))
    answer: dict[str, Any] = {
        "files": [
            {"path": path, "lines": text.count("\n")} for path, text in files.items()
        ],
        "path": selected,
        "text": files[selected],
    }
    if body.get("all"):
        answer["texts"] = files
    if workspace.project is not None:
        try:
            chosen = plan_update(workspace.project, update_changes(workspace, body))
        except ScaffoldError as error:  # the page shows it where the plan goes
            answer["plan_error"] = str(error)
        else:
            source, text = project_view(chosen, selected, files[selected])
            answer.update(
                text=text,
                source=source,
                label=PROJECT_VIEWS[source],
                plan=describe(chosen),
            )
    return answer


def project_view(chosen: Plan, path: str, rendered: str) -> tuple[str, str]:
    """(where the text comes from, the text) of a generated file as the project
    holds it once `chosen` is applied."""
    for change in chosen.changes:
        if change.target == path and change.after is not None:
            return change.action, change.after.decode("utf-8", errors="replace")
        if change.path == path and change.action in ("deleted", "skipped"):
            return change.action, rendered
    try:
        return "yours", (chosen.root / path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "skipped", rendered
    except FileNotFoundError:
        return "deleted", rendered


def initial_state(workspace: Workspace) -> dict[str, Any]:
    """What the page shows first, served inside it so that its first paint needs
    no other request: the schema, and the view of its starting options."""
    start = schema(workspace)
    try:
        view = preview(workspace, {"options": start["options"]})
    except ScaffoldError:
        view = None  # the page asks, and shows why
    return {"schema": start, "view": view}


def create_project(workspace: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """`scaffold new` into the output folder: the same checks, all or nothing."""
    options = requested_options(body)
    root = workspace.output_dir / options.name
    # A link there could lead anywhere: the page writes into --output-dir only.
    if not Path(os.path.realpath(root)).is_relative_to(workspace.output_dir):
        raise PathRefused(
            f"{root} is a link out of {workspace.output_dir}; choose another name"
        )
    note = recover_interrupted_new(workspace.output_dir, options.name)
    root = create(options, workspace.output_dir)
    return {
        "root": str(root),
        "notes": [note] if note else [],
        "message": f"created {root}",
        "train": train_command(options, root),
    }


def update_changes(workspace: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """The options to give `update`: all of them but the name, which it keeps."""
    if workspace.project is None:
        raise ScaffoldError(
            "no project to update: start `scaffold ui PATH` with the project's folder"
        )
    options = requested_options(body)
    recorded = read_record(workspace.project).options
    if options.name != recorded.name:
        raise InvalidOption(
            f"the project's name is {recorded.name!r}; update cannot rename it"
        )
    return {
        field.name: getattr(options, field.name)
        for field in dataclasses.fields(Options)
        if field.name != "name"
    }


def plan(workspace: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """What `scaffold update` with these options would do: `scaffold diff`'s view."""
    changes = update_changes(workspace, body)
    assert workspace.project is not None  # update_changes refuses otherwise
    return describe(plan_update(workspace.project, changes))


def update_project(workspace: Workspace, body: dict[str, Any]) -> dict[str, Any]:
    """`scaffold update` with these options, conflicts included in the answer."""
    changes = update_changes(workspace, body)
    assert workspace.project is not None
    note = recover_interrupted(workspace.project)
    chosen = plan_update(workspace.project, changes)
    answer = {**describe(chosen), "notes": [note] if note else []}
    if chosen.up_to_date:
        return answer
    apply(chosen)
    answer["message"] = f"updated {chosen.root}"
    if chosen.conflicts:
        answer["conflict_message"] = chosen.conflict_message()
    return answer


def describe(chosen: Plan) -> dict[str, Any]:
    """A plan as `scaffold update` reports it and `scaffold diff` shows it: the
    files under each report word, the whole diff, and each file's own."""
    report = []
    for action, meaning in ACTIONS.items():
        files = [
            {"path": change.path, "target": change.target}
            for change in chosen.changes
            if change.action == action
        ]
        if files:
            report.append({"action": action, "meaning": meaning, "files": files})
    return {
        "up_to_date": chosen.up_to_date,
        "summary": chosen.summary() if not chosen.up_to_date else "already up to date",
        "report": report,
        "diff": unified_diff(chosen),
        "diffs": {
            change.target: unified_diff(dataclasses.replace(chosen, changes=[change]))
            for change in chosen.changes
            if change.touches_disk
        },
        "conflicts": chosen.conflicts,
    }


def download(body: dict[str, Any]) -> tuple[str, bytes]:
    """The project `scaffold new` would write, zipped under NAME/; (file name, zip).

    The record and base copy are in it too, so the unzipped folder updates like
    any other project.
    """
    options = requested_options(body)
    rendered = render(options)
    files = {path: text.encode() for path, text in rendered.items()}
    files.update(bookkeeping_files(current_record(options), rendered))
    now = time.localtime()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(files.items()):
            entry = zipfile.ZipInfo(f"{options.name}/{path}", date_time=now)
            entry.external_attr = 0o644 << 16  # rw-r--r--, as the umask usually gives
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return f"{options.name}.zip", buffer.getvalue()
