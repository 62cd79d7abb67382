"""Regenerate generated_examples/ from the current templates.

    python scripts/generate_examples.py

Each example is what `scaffold new mytrainer <flags>` writes, minus the pristine
copy under .scaffold/base (a duplicate of the files beside it): the default
project, the smallest one, one with every classification metric and feature, the
default project for your own images, and the default segmentation project, so
that every template change is reviewed as the Python it renders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from scaffold.options import Options
from scaffold.project import RECORD_FILE, current_record
from scaffold.registry import FEATURES, METRICS
from scaffold.render import render

ROOT = Path(__file__).resolve().parent.parent / "generated_examples"
EVERY_FEATURE = {
    name: spec.choices[0] if spec.choices else True for name, spec in FEATURES.items()
}
CLASSIFICATION_METRICS = tuple(
    name for name, spec in METRICS.items() if "classification" in spec.tasks
)
EXAMPLES = {
    "accuracy-nll": Options(name="mytrainer", metrics=("accuracy", "nll")),
    "accuracy": Options(name="mytrainer", metrics=("accuracy",)),
    "full": Options(name="mytrainer", metrics=CLASSIFICATION_METRICS, **EVERY_FEATURE),
    "imagefolder": Options(name="mytrainer", data="imagefolder"),
    "segmentation": Options(name="mytrainer", task="segmentation"),
}


def example_files() -> dict[str, str]:
    """{path under generated_examples/: text} for every example."""
    files = {}
    for label, options in EXAMPLES.items():
        rendered = render(options)
        rendered[RECORD_FILE] = current_record(options).to_json()
        files.update({f"{label}/{path}": text for path, text in rendered.items()})
    return files


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    for path, text in example_files().items():
        target = ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    print(f"wrote {len(EXAMPLES)} examples to {ROOT}")


if __name__ == "__main__":
    main()
