"""Apply each named mutant to a copy of the repository and run the tests meant to
catch it.

    python -m mutation                  # every mutant, after a baseline run
    python -m mutation --only NAME ...  # some of them
    python -m mutation --check          # does every mutant apply, its tests exist?
    python -m mutation --list           # names and descriptions

A mutant is stale when its old text does not occur exactly once or a test it
names is not collected: rewrite it against the current code. The baseline runs
the named tests once on an unmutated copy: a test that already fails there
would "catch" any mutant, so the mutants that name it are reported as unsound,
not run. Exits 1 unless every mutant is caught.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from mutation.mutants import MUTANTS, Mutant
from mutation.repository import copy_repository, repository_files

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# "FAILED tests/x.py::test_y[param] - reason" in pytest's short summary (-rfE).
FAILURE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


class Stale(Exception):
    """A mutant no longer fits the code or the tests: rewrite it."""


class TestRun(NamedTuple):
    code: int | None  # pytest's exit code; None: it ran past the timeout
    failed: list[str]  # node ids, in the order pytest reports them
    seconds: float
    output: str


def mutated(mutant: Mutant, root: Path) -> str:
    """The text of the mutant's file under root with its edits made."""
    path = root / mutant.file
    if not path.is_file():
        raise Stale(f"{mutant.file} does not exist")
    text = path.read_text(encoding="utf-8")
    for n, (old, new) in enumerate(((mutant.old, mutant.new), *mutant.more)):
        count = text.count(old)
        if count != 1:
            which = "old" if n == 0 else f"more[{n - 1}]"
            raise Stale(f"{which} text occurs {count} times in {mutant.file}")
        text = text.replace(old, new)
    return text


def environment(root: Path, data: Path) -> dict[str, str]:
    # scaffold is installed in editable mode from the real checkout: the copy goes
    # first on the path, so that its (mutated) scaffold is the one imported.
    paths = [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "SCAFFOLD_TEST_DATA": str(data),  # the MNIST sample, written once
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def check_import(root: Path, env: dict[str, str]) -> None:
    imported = subprocess.run(
        [sys.executable, "-c", "import scaffold; print(scaffold.__file__)"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(imported).resolve().is_relative_to(root.resolve()):
        sys.exit(f"error: the copy imports scaffold from {imported}, not from {root}")


def collected(files: list[str], root: Path, env: dict[str, str]) -> set[str]:
    """The node ids pytest collects from these test files."""
    result = subprocess.run(
        [*PYTEST, "--collect-only", *files],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return {line for line in result.stdout.splitlines() if "::" in line}


def selects(argument: str, test: str) -> bool:
    """Whether the pytest argument (a file or a node id) selects the test."""
    return test == argument or (
        test.startswith(argument) and test[len(argument)] in "[:"
    )


def run_tests(tests, root: Path, env, timeout: float, first_failure=True) -> TestRun:
    start = time.monotonic()
    try:
        result = subprocess.run(
            [*PYTEST, "-rfE", *(["-x"] if first_failure else []), *tests],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return TestRun(None, [], time.monotonic() - start, "")
    failed = FAILURE.findall(result.stdout)
    output = result.stdout + result.stderr
    return TestRun(result.returncode, failed, time.monotonic() - start, output)


def verdict(run: TestRun) -> tuple[str, str]:
    """(caught / missed / timeout / error, the test that caught it or why)."""
    if run.code is None:
        return "timeout", ""
    if run.code in (1, 2):  # a test failed, or collecting the mutated code did
        return "caught", run.failed[0] if run.failed else "collection error"
    if run.code == 0:
        return "missed", ""
    if run.code == 5:
        return "missed", "no tests ran"
    return "error", f"pytest exit code {run.code}"


def print_row(name: str, result: str, seconds: float | None, note: str) -> None:
    shown = "" if seconds is None else f"{seconds:.1f}"
    print(f"{name:44} | {result:8} | {shown:>7} | {note}", flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m mutation", description=__doc__)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="mutants to run")
    parser.add_argument("--list", action="store_true", help="list the mutants")
    parser.add_argument(
        "--check", action="store_true", help="only check that each mutant applies"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the unmutated run"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds a test run may take"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {mutant.name for mutant in MUTANTS}
    if unknown:
        parser.error(f"unknown mutant(s): {', '.join(sorted(unknown))}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}\n    {mutant.file}: {mutant.description}")
        return 0

    with tempfile.TemporaryDirectory(prefix="scaffold-mutation-") as scratch:
        scratch = Path(scratch)
        data = scratch / "data"
        data.mkdir()
        baseline = scratch / "baseline"
        files = repository_files()
        copy_repository(files, baseline)
        env = environment(baseline, data)
        check_import(baseline, env)

        stale = {}
        test_files = sorted({t.split("::")[0] for m in mutants for t in m.tests})
        found = collected(test_files, baseline, env)
        for mutant in mutants:
            try:
                mutated(mutant, baseline)
            except Stale as error:
                stale[mutant.name] = str(error)
                continue
            for test in mutant.tests:
                if not any(selects(test, node) for node in found):
                    stale[mutant.name] = f"no test {test}"
                    break
        if args.check:
            for mutant in mutants:
                result = "stale" if mutant.name in stale else "ok"
                print_row(mutant.name, result, None, stale.get(mutant.name, ""))
            return 1 if stale else 0

        failing = []
        if not args.no_baseline:
            tests = list(
                dict.fromkeys(
                    test for m in mutants if m.name not in stale for test in m.tests
                )
            )
            print(f"baseline: {len(tests)} test selections on the unmutated copy")
            run = run_tests(tests, baseline, env, args.timeout, first_failure=False)
            if run.code not in (0, 1):
                print(run.output[-3000:])
                sys.exit(f"error: the baseline run ended with exit code {run.code}")
            failing = run.failed
            print(f"baseline: {len(failing)} failing, {run.seconds:.0f}s")
            for test in failing:
                print(f"    fails unmutated: {test}")

        print_row("mutant", "result", None, "caught by, or why not run")
        print("-" * 100)
        results = {}
        for mutant in mutants:
            unsound = [t for t in failing if any(selects(s, t) for s in mutant.tests)]
            if mutant.name in stale:
                results[mutant.name], note, run = "stale", stale[mutant.name], None
            elif unsound:
                results[mutant.name], run = "unsound", None
                note = f"fails unmutated: {unsound[0]}"
            else:
                root = scratch / mutant.name
                copy_repository(files, root)
                (root / mutant.file).write_text(mutated(mutant, root), "utf-8")
                env = environment(root, data)
                check_import(root, env)
                run = run_tests(mutant.tests, root, env, args.timeout)
                results[mutant.name], note = verdict(run)
                shutil.rmtree(root, ignore_errors=True)
            print_row(mutant.name, results[mutant.name], run and run.seconds, note)

    outcomes = list(results.values())
    print("-" * 100)
    print(", ".join(f"{outcomes.count(r)} {r}" for r in dict.fromkeys(outcomes)))
    return 0 if set(outcomes) == {"caught"} else 1


if __name__ == "__main__":
    sys.exit(main())
