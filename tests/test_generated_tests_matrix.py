"""The tests that ship inside a generated project pass for every metric combination."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys

from scaffold.options import Options
from scaffold.registry import METRICS
from scaffold.render import render

from .conftest import write_tree


def test_shipped_metric_and_training_tests_pass_for_every_metric_subset(tmp_path):
    # One pytest process for all projects, so torch is imported once: each project
    # gets its own package name, and every project root goes on the path.
    names = list(METRICS)
    roots, test_files, first_metrics = [], [], set()
    for size in range(1, len(names) + 1):
        for subset in itertools.combinations(names, size):
            # Rendered as "mytrainer" (the render matrix formatted these already) and
            # renamed: formatting is not under test here, behaviour is.
            package = f"m{len(roots):03d}"
            files = render(Options(name="mytrainer", metrics=subset))
            renamed = {
                path.replace("mytrainer", package): text.replace("mytrainer", package)
                for path, text in files.items()
            }
            root = write_tree(tmp_path / package, renamed)
            roots.append(str(root))
            test_files.append(str(root / "tests" / "test_metrics.py"))
            if subset[0] not in first_metrics:  # test_train.py varies only with it
                first_metrics.add(subset[0])
                test_files.append(str(root / "tests" / "test_train.py"))
    assert len(roots) == 2 ** len(names) - 1

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            *test_files,
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(roots)},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-4000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    assert passed >= len(roots) + 3 * len(first_metrics)
