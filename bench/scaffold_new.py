"""`scaffold new` wall time, process start to exit, formatting included.

Cold: an empty cache (SCAFFOLD_CACHE_DIR in a fresh folder), as on a first install:
Jinja compiles every template. Warm: the same cache after one run. The templates
are written in black's format and lay out imports for the name, so black runs only
for a name long enough to push a line of code past 88 columns (64 characters or
more): the long-name case (cold) measures that path. `python -c pass` is the floor
any command pays.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from bench.common import Row, interleaved, median

GOAL_S = 1.0
LONG_NAME = "a_training_package_whose_name_is_long_enough_for_black_to_run_on_files"


def timed(command, env):
    def run():
        with tempfile.TemporaryDirectory(prefix="bench-new-") as out:
            subprocess.run(
                [*command, "-o", out] if "new" in command else command,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )

    return run


def cold(command):
    def run():
        with tempfile.TemporaryDirectory(prefix="bench-cold-") as empty:
            timed(command, {**os.environ, "SCAFFOLD_CACHE_DIR": empty})()

    return run


def measure(repeats: int = 5) -> list[Row]:
    new = [sys.executable, "-m", "scaffold", "new"]
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as warm_cache:
        warm_env = {**os.environ, "SCAFFOLD_CACHE_DIR": warm_cache}
        timed([*new, "mytrainer"], warm_env)()  # fill the cache

        seconds = {
            name: median(times)
            for name, times in interleaved(
                {
                    "python": timed([sys.executable, "-c", "pass"], os.environ),
                    "cold": cold([*new, "mytrainer"]),
                    "warm": timed([*new, "mytrainer"], warm_env),
                    "long": cold([*new, LONG_NAME]),
                },
                repeats,
            ).items()
        }
    figure = "scaffold new"
    goal = f"< {GOAL_S:.0f} s"
    cases = {
        "cold": "cold: empty cache",
        "warm": "warm: Jinja bytecode cached",
        "long": f"cold, {len(LONG_NAME)}-character name (black runs)",
    }
    return [
        Row(figure, "python -c pass (floor)", seconds["python"], "s"),
        *(
            Row(figure, case, seconds[key], "s", "", goal, seconds[key] < GOAL_S)
            for key, case in cases.items()
        ),
    ]
