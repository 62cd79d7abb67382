"""generated_examples/ must match what the current templates render."""

from __future__ import annotations

import importlib.util

from .conftest import REPO

# Tools leave these beside the files they read; they are not part of an example.
CACHES = {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}


def test_generated_examples_are_current():
    spec = importlib.util.spec_from_file_location("generate_examples", REPO / "scripts" / "generate_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.example_files()
    on_disk = {
        p.relative_to(module.ROOT).as_posix(): p.read_text()
        for p in sorted(module.ROOT.rglob("*"))
        if p.is_file() and not CACHES.intersection(p.parts)
    }
    stale = sorted(path for path in expected.keys() | on_disk.keys() if expected.get(path) != on_disk.get(path))
    assert not stale, (
        f"generated_examples/ is stale ({', '.join(stale[:5])}); "
        "run: python scripts/generate_examples.py"
    )
