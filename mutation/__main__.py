"""Apply each named mutant to a copy of the repository and run the tests meant to
catch it.

    python -m mutation                  # every mutant, after a baseline run
    python -m mutation --only NAME ...  # some of them
    python -m mutation --check          # only check that every mutant applies
    python -m mutation --list           # names and descriptions

The baseline runs the named tests once on an unmutated copy: a test that already
fails there would "catch" any mutant, so the mutants that name it are reported
as unsound instead of run. Exits 1 unless every mutant run is caught.
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

from mutation.mutants import MUTANTS, Mutant
from mutation.repository import REPO, copy_repository, repository_files

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE"]
# "FAILED tests/x.py::test_y[param] - reason" in pytest's short summary.
FAILURE = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


class Stale(Exception):
    """A mutant's old text does not occur exactly once: rewrite it against the code."""


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
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(root), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
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


def run_tests(tests, root: Path, env, timeout: float, stop_first=True):
    """(pytest's exit code or None on timeout, failed node ids, seconds)."""
    start = time.monotonic()
    try:
        result = subprocess.run(
            [*PYTEST, *(["-x"] if stop_first else []), *tests],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, [], time.monotonic() - start, ""
    output = result.stdout + result.stderr
    failed = FAILURE.findall(result.stdout)
    return result.returncode, failed, time.monotonic() - start, output


def selects(node_id: str, test: str) -> bool:
    """Whether the pytest argument `node_id` selects the test `test`."""
    return test == node_id or (test.startswith(node_id) and test[len(node_id)] in "[:")


def verdict(code: int | None, failed: list[str]) -> tuple[str, str]:
    if code is None:
        return "timeout", ""
    if code in (1, 2):  # tests failed, or collection failed on the mutant
        return "caught", failed[0] if failed else "collection error"
    if code == 0:
        return "missed", ""
    if code == 5:
        return "missed", "no tests ran"
    return "error", f"pytest exit code {code}"


def print_row(name: str, result: str, seconds: float | str, note: str) -> None:
    seconds = f"{seconds:7.1f}" if isinstance(seconds, float) else f"{seconds:>7}"
    print(f"{name:44} | {result:8} | {seconds} | {note}", flush=True)


def main(argv=None) -> int:
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

    mutants = list(MUTANTS)
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTANTS}
        if unknown:
            parser.error(f"unknown mutant(s): {', '.join(sorted(unknown))}")
        mutants = [m for m in MUTANTS if m.name in args.only]
    if args.list:
        for mutant in mutants:
            print(f"{mutant.name}\n    {mutant.file}: {mutant.description}")
        return 0

    files = repository_files()
    with tempfile.TemporaryDirectory(prefix="scaffold-mutation-") as scratch:
        scratch = Path(scratch)
        data = scratch / "data"
        data.mkdir()
        stale = {}
        for mutant in mutants:
            try:
                mutated(mutant, REPO)
            except Stale as error:
                stale[mutant.name] = str(error)
        if args.check:
            for mutant in mutants:
                print_row(
                    mutant.name,
                    "stale" if mutant.name in stale else "applies",
                    "",
                    stale.get(mutant.name, ""),
                )
            return 1 if stale else 0

        failing = []
        if not args.no_baseline:
            tests = list(dict.fromkeys(t for m in mutants for t in m.tests))
            root = scratch / "baseline"
            copy_repository(files, root)
            env = environment(root, data)
            check_import(root, env)
            print(f"baseline: {len(tests)} test selection(s) on the unmutated copy")
            code, failing, seconds, output = run_tests(
                tests, root, env, args.timeout, stop_first=False
            )
            if code not in (0, 1):
                print(output[-3000:])
                sys.exit(f"error: the baseline run ended with exit code {code}")
            print(f"baseline: {len(failing)} failing, {seconds:.0f}s")
            for test in failing:
                print(f"    fails unmutated: {test}")
            shutil.rmtree(root)

        print_row("mutant", "result", "seconds", "caught by / why")
        print("-" * 100)
        results = {}
        for mutant in mutants:
            if mutant.name in stale:
                results[mutant.name] = "stale"
                print_row(mutant.name, "stale", "", stale[mutant.name])
                continue
            unsound = [t for t in failing if any(selects(s, t) for s in mutant.tests)]
            if unsound:
                results[mutant.name] = "unsound"
                print_row(mutant.name, "unsound", "", f"fails unmutated: {unsound[0]}")
                continue
            root = scratch / mutant.name
            copy_repository(files, root)
            (root / mutant.file).write_text(mutated(mutant, root), encoding="utf-8")
            env = environment(root, data)
            check_import(root, env)
            code, failed, seconds, _ = run_tests(mutant.tests, root, env, args.timeout)
            results[mutant.name], note = verdict(code, failed)
            print_row(mutant.name, results[mutant.name], seconds, note)
            shutil.rmtree(root, ignore_errors=True)

    counts = {
        r: list(results.values()).count(r) for r in dict.fromkeys(results.values())
    }
    print("-" * 100)
    print(", ".join(f"{n} {r}" for r, n in counts.items()))
    return 0 if set(results.values()) <= {"caught"} else 1


if __name__ == "__main__":
    sys.exit(main())
