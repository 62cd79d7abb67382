"""`scaffold new` wall time, process start to exit, black formatting included.

Cold: an empty formatting cache (SCAFFOLD_CACHE_DIR in a fresh folder), as on a
first install. Warm: the same cache after one run. `python -c pass` is the floor
any command pays.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from bench.common import Row, interleaved, median

GOAL_S = 1.0


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


def measure(repeats: int = 5) -> list[Row]:
    new = [sys.executable, "-m", "scaffold", "new", "mytrainer"]
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as warm_cache:
        warm_env = {**os.environ, "SCAFFOLD_CACHE_DIR": warm_cache}
        timed(new, warm_env)()  # fill the cache

        def cold():
            with tempfile.TemporaryDirectory(prefix="bench-cold-") as empty:
                timed(new, {**os.environ, "SCAFFOLD_CACHE_DIR": empty})()

        seconds = {
            name: median(times)
            for name, times in interleaved(
                {
                    "python": timed([sys.executable, "-c", "pass"], os.environ),
                    "cold": cold,
                    "warm": timed(new, warm_env),
                },
                repeats,
            ).items()
        }
    figure = "scaffold new"
    goal = f"< {GOAL_S:.0f} s"
    return [
        Row(figure, "python -c pass (floor)", seconds["python"], "s"),
        Row(
            figure,
            "cold: empty black cache",
            seconds["cold"],
            "s",
            "",
            goal,
            seconds["cold"] < GOAL_S,
        ),
        Row(
            figure,
            "warm: cached formatting",
            seconds["warm"],
            "s",
            "",
            goal,
            seconds["warm"] < GOAL_S,
        ),
    ]
