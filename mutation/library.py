"""mutmut's score for scaffold/update.py and scaffold/render.py, run in a copy.

    python -m mutation.library [--max-children N] [--dir FOLDER]

mutmut writes its mutants/ folder where it runs, so this copies the repository
into FOLDER (default: a new temporary folder, kept for `mutmut results` and
`mutmut show NAME` there; give the same FOLDER again to resume a run), writes
mutation/mutmut.cfg into it as setup.cfg, runs `mutmut run` and prints the score
of each file: killed / survived / timeout / no tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from mutation.repository import REPO, copy_repository, repository_files

FILES = ("scaffold/update.py", "scaffold/render.py")
# mutmut's exit codes per mutant (mutmut/stats.py), as the statuses it reports.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests"}
STATUS |= dict.fromkeys((36, -24, 24, 152, 255), "timeout")
STATUS[None] = "not checked"


def score(folder: Path) -> dict[str, Counter]:
    scores = {}
    for name in FILES:
        meta = json.loads((folder / "mutants" / f"{name}.meta").read_text())
        codes = meta["exit_code_by_key"].values()
        scores[name] = Counter(STATUS.get(code, "suspicious") for code in codes)
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mutation.library")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="the copy to run in (or resume)")
    args = parser.parse_args(argv)

    folder = args.dir or Path(tempfile.mkdtemp(prefix="scaffold-mutmut-"))
    if not (folder / "setup.cfg").is_file():
        copy_repository(repository_files(), folder)
        shutil.copy2(REPO / "mutation" / "mutmut.cfg", folder / "setup.cfg")
    print(f"mutmut runs in {folder}", flush=True)
    # A path that cannot be created: render.py then caches nothing on disk.
    env = {**os.environ, "SCAFFOLD_CACHE_DIR": os.path.join(os.devnull, "scaffold")}
    command = [sys.executable, "-m", "mutmut", "run"]
    command += ["--max-children", str(args.max_children)]
    run = subprocess.run(command, cwd=folder, env=env, check=False)
    for name, counts in score(folder).items():
        total = sum(counts.values())
        line = ", ".join(f"{n} {status}" for status, n in counts.most_common())
        print(f"{name}: {counts['killed']}/{total} killed ({line})")
    print(f"surviving mutants: cd {folder} && python -m mutmut results")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
