"""Options: every choice a user makes, validated once into one frozen value.

The same value is written to the project's record file and read back by `update`,
so whatever the CLI accepts here is exactly what a later re-render sees.
"""

from __future__ import annotations

import dataclasses
import json
import keyword
import sys
import unicodedata
from dataclasses import dataclass
from typing import Any

from scaffold.errors import InvalidOption
from scaffold.registry import (
    DATA_KINDS,
    DEFAULT_TASK,
    METRICS,
    RESERVED_NAMES,
    SCHEDULERS,
    TASKS,
)


@dataclass(frozen=True)
class Options:
    name: str
    # Each left empty takes a default from the others: the task that of the data
    # kind (else DEFAULT_TASK), the data kind and the metrics those of the task.
    task: str = ""
    data: str = ""
    metrics: tuple[str, ...] = ()
    cuda: bool = False
    distributed: bool = False
    checkpoint: bool = False
    early_stopping: bool = False
    scheduler: str = SCHEDULERS[0]
    amp: bool = False
    progress: bool = False
    tensorboard: bool = False
    mlflow: bool = False
    wandb: bool = False
    sweep: bool = False
    plot: bool = False
    slurm: bool = False

    def __post_init__(self) -> None:
        validate_name(self.name)
        if not self.task:
            kind = DATA_KINDS.get(self.data)
            object.__setattr__(self, "task", kind.task if kind else DEFAULT_TASK)
        if self.task not in TASKS:
            raise InvalidOption(
                f"unknown task {self.task!r}; choose from {', '.join(TASKS)}"
            )
        task = TASKS[self.task]
        # What the task takes by default, for what was left unchosen.
        object.__setattr__(self, "data", self.data or task.data)
        object.__setattr__(self, "metrics", tuple(self.metrics) or task.metrics)
        kinds = [kind.name for kind in DATA_KINDS.values() if kind.task == self.task]
        if self.data not in DATA_KINDS:
            raise InvalidOption(
                f"unknown data kind {self.data!r}; choose from {', '.join(kinds)}"
            )
        if self.data not in kinds:
            raise InvalidOption(
                f"data kind {self.data!r} is for {DATA_KINDS[self.data].task}; a "
                f"{self.task} project takes {', '.join(kinds)}"
            )
        if self.scheduler not in SCHEDULERS:
            raise InvalidOption(
                f"unknown scheduler {self.scheduler!r}; choose from {', '.join(SCHEDULERS)}"
            )
        # Canonical order, so the same choice always renders the same bytes.
        object.__setattr__(self, "metrics", normalize_metrics(self.metrics, self.task))

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["metrics"] = list(self.metrics)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Options:
        """The options a record file holds, each checked against the type of its
        field's default (a field without a default is a string)."""
        if not isinstance(record, dict):
            raise InvalidOption(
                f"'options' must be an object, not {json.dumps(record)}"
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(record) - set(fields))
        if unknown:
            raise InvalidOption(f"unknown option(s) {', '.join(unknown)} in record")
        missing = [n for n, f in fields.items() if n not in record and required(f)]
        if missing:
            raise InvalidOption(f"option {missing[0]!r} is missing")
        values = {n: typed(n, v, fields[n].default) for n, v in record.items()}
        if "metrics" in values:
            # An empty list chooses no metric; only a field left out takes defaults.
            normalize_metrics(values["metrics"])
        return cls(**values)

    def replace(self, **changes: Any) -> Options:
        return dataclasses.replace(self, **changes)


# How an error names the JSON type a record field must have.
JSON_TYPES = {
    bool: "true or false",
    str: "a string",
    int: "a number",
    float: "a number",
}


def required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING


def typed(name: str, value: Any, default: Any) -> Any:
    """value, read from JSON, if it has the type of default; a tuple is a JSON list.

    `type(x) is` rather than isinstance: JSON true must not pass for a number.
    """
    expected = str if default is dataclasses.MISSING else type(default)
    if expected is tuple:
        item = type(default[0]) if default else str
        if isinstance(value, list) and all(type(v) is item for v in value):
            return tuple(value)
        wanted = f"a list of {JSON_TYPES[item].removeprefix('a ')}s"
    elif type(value) is expected:
        return value
    else:
        wanted = JSON_TYPES[expected]
    raise InvalidOption(f"option {name!r} must be {wanted}, not {json.dumps(value)}")


def validate_name(name: str) -> None:
    if not name.isidentifier() or not name.isascii():
        hint = ascii_name(name)
        suggestion = f" (try {hint!r})" if hint != name and is_valid_name(hint) else ""
        raise InvalidOption(
            f"project name {name!r} is not a valid Python package name{suggestion}"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise InvalidOption(f"project name {name!r} is a Python keyword")
    if name in RESERVED_NAMES or name in sys.stdlib_module_names:
        raise InvalidOption(
            f"project name {name!r} would shadow the module {name!r} that the "
            "generated code or its tests import; pick another name"
        )


def ascii_name(name: str) -> str:
    """The name in ASCII, as a package name spells it: café -> cafe, my-app -> my_app."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.replace("-", "_").replace(" ", "_").lower()


def is_valid_name(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidOption:
        return False
    return True


def parse_metrics(text: str) -> tuple[str, ...]:
    """Parse the --metrics comma list, rejecting empty and repeated names; Options
    checks the names against the project's task."""
    names = [part.strip() for part in text.split(",")]
    if not any(names):
        raise InvalidOption(f"--metrics is empty; choose from {', '.join(METRICS)}")
    if "" in names:
        raise InvalidOption(f"--metrics {text!r} has an empty entry")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidOption(f"metric {repeated[0]!r} is listed more than once")
    return tuple(names)


def normalize_metrics(names: Any, task: str | None = None) -> tuple[str, ...]:
    """`names` in the canonical order, each a metric (of `task`, if given) and
    listed once."""
    names = list(names)
    offered = [n for n, spec in METRICS.items() if task is None or task in spec.tasks]
    if not names:
        raise InvalidOption(f"no metric chosen; choose from {', '.join(offered)}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise InvalidOption(
            f"unknown metric {unknown[0]!r}; choose from {', '.join(offered)}"
        )
    other = [n for n in names if n not in offered]
    if other:
        raise InvalidOption(
            f"metric {other[0]!r} is not one of a {task} project; choose from "
            f"{', '.join(offered)}"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidOption(f"metric {repeated[0]!r} is listed more than once")
    return tuple(n for n in METRICS if n in names)
