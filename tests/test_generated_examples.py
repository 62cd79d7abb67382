"""generated_examples/ must match what the current templates render."""

from __future__ import annotations

from scaffold.registry import DATA_KINDS, TASKS
from scripts import generate_examples

# Tools leave these beside the files they read; they are not part of an example.
CACHES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def test_generated_examples_are_current():
    expected = generate_examples.example_files()
    on_disk = {
        path.relative_to(generate_examples.ROOT).as_posix(): path.read_text()
        for path in sorted(generate_examples.ROOT.rglob("*"))
        if path.is_file() and not CACHES.intersection(path.parts)
    }
    stale = sorted(
        path
        for path in expected.keys() | on_disk.keys()
        if expected.get(path) != on_disk.get(path)
    )
    assert not stale, (
        f"generated_examples/ is stale ({', '.join(stale[:5])}); "
        "run: python scripts/generate_examples.py"
    )


def test_the_examples_show_every_task_and_every_kind_of_data():
    examples = generate_examples.EXAMPLES.values()
    assert {options.task for options in examples} == set(TASKS)
    assert {options.data for options in examples} == set(DATA_KINDS)
