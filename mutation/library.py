"""mutmut's score for the files mutation/mutmut.cfg names, run in a copy.

    python -m mutation.library [--max-children N] [--dir FOLDER]

mutmut writes its mutants/ folder where it runs, so this copies the repository
into FOLDER (default: a new temporary folder, kept for `mutmut results` and
`mutmut show NAME` there; give the same FOLDER again to resume a run: mutmut
then tests only the mutants of functions that changed), writes
mutation/mutmut.cfg into it as setup.cfg, runs `mutmut run` and prints the score
of each file: killed / survived / timeout / no tests.

mutmut runs a mutant against the tests that called the mutated function while
it collected its statistics; a function called from a module-scoped fixture is
credited to the first test that used the fixture only, so the later tests that
check the fixture's result never see its mutants.

    python -m mutation.library --dir FOLDER --recheck FILE -- PYTEST-ARGS...

runs each survivor of FILE (scaffold/update.py) against those tests (pytest -x,
e.g. tests/test_update.py) and prints the ones they kill.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mutation.repository import REPO, copy_repository, repository_files

# The files mutmut mutates: only_mutate in mutation/mutmut.cfg.
FILES = tuple(
    line.strip()
    for line in (REPO / "mutation" / "mutmut.cfg")
    .read_text()
    .split("only_mutate=")[1]
    .split("also_copy=")[0]
    .splitlines()
    if line.strip()
)
# mutmut's exit codes per mutant (mutmut/stats.py), as the statuses it reports.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
STATUS |= dict.fromkeys((36, -24, 24, 152, 255), "timeout")
STATUS[None] = "not checked"


def statuses(folder: Path) -> dict[str, dict[str, str]]:
    """{file: {mutant name: status}} as mutmut recorded them."""
    found = {}
    for name in FILES:
        meta = json.loads((folder / "mutants" / f"{name}.meta").read_text())
        found[name] = {
            mutant: STATUS.get(code, "suspicious")
            for mutant, code in meta["exit_code_by_key"].items()
        }
    return found


def killed_by(folder: Path, mutant: str, tests: list[str], env) -> bool:
    """Whether the tests fail with the mutant active (mutmut's trampolines read
    MUTANT_UNDER_TEST)."""
    mutants = folder / "mutants"
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    try:
        run = subprocess.run(
            [*command, *tests],
            cwd=mutants,
            env={**env, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(mutants)},
            capture_output=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return run.returncode != 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation.library")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="the copy to run in (or resume)")
    parser.add_argument(
        "--recheck", metavar="FILE", help="run FILE's survivors against the tests"
    )
    parser.add_argument("tests", nargs="*", help="pytest arguments, after --")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("mutmut") is None:
        sys.exit("error: mutmut is not installed: pip install 'mutmut>=3.8'")

    folder = args.dir or Path(tempfile.mkdtemp(prefix="scaffold-mutmut-"))
    if not (folder / "setup.cfg").is_file():
        copy_repository(repository_files(), folder)
        shutil.copy2(REPO / "mutation" / "mutmut.cfg", folder / "setup.cfg")
    print(f"mutmut runs in {folder}", flush=True)
    # A path that cannot be created: render.py then caches nothing on disk.
    env = {**os.environ, "SCAFFOLD_CACHE_DIR": os.path.join(os.devnull, "scaffold")}
    if args.recheck:
        found = statuses(folder)[args.recheck]
        survivors = [m for m, status in found.items() if status == "survived"]
        tests = args.tests
        print(f"{len(survivors)} survivors of {args.recheck} against {' '.join(tests)}")
        with ThreadPoolExecutor(args.max_children) as pool:
            verdicts = pool.map(lambda m: killed_by(folder, m, tests, env), survivors)
            for mutant, killed in zip(survivors, verdicts, strict=True):
                print(
                    f"    {'killed' if killed else 'survived':8} {mutant}", flush=True
                )
        return 0
    command = [sys.executable, "-m", "mutmut", "run"]
    command += ["--max-children", str(args.max_children)]
    run = subprocess.run(command, cwd=folder, env=env, check=False)
    for name, by_mutant in statuses(folder).items():
        counts = Counter(by_mutant.values())
        line = ", ".join(f"{n} {status}" for status, n in counts.most_common())
        print(f"{name}: {counts['killed']}/{len(by_mutant)} killed ({line})")
    print(f"surviving mutants: cd {folder} && python -m mutmut results")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
