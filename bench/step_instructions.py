"""The supervised step overhead in CPU instructions, counted by valgrind's callgrind.

The timed `step` section compares two ~500 µs steps, so on a shared machine its
few-microsecond differences sit inside the noise. Instruction counts do not move
with the load. One process under callgrind sets every runner up uninstrumented,
then counts a short and a long run of each (Linear 784->10, batch 64, SGD, one
torch thread); their difference over the extra steps is what one step costs.
Counting starts and stops through callgrind's client requests, from a few lines
of C compiled on the spot (needs gcc and valgrind's headers).

    python -m bench --only instructions
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, Row

STEPS = (50, 250)

REQUESTS = r"""
#include <valgrind/callgrind.h>
void count_from_zero(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void stop_and_dump(const char *label) {
    CALLGRIND_STOP_INSTRUMENTATION;
    CALLGRIND_DUMP_STATS_AT(label);
}
"""


def child(library: str) -> None:
    """Set every runner up, then count each one's short and long run."""
    import torch

    torch.set_num_threads(1)  # worker threads would make the counts vary
    from bench import peers
    from bench import supervised_step as step

    requests = ctypes.CDLL(library)
    batches = step.make_batches(max(STEPS))
    runners = {
        "raw": lambda n: step.raw_loop(batches[:n]),
        "generated": lambda n: step.engine_trainer(
            step.generated("engine").create_supervised_trainer, batches[:n]
        ),
    }
    if peers.ignite_version():
        from ignite.engine import create_supervised_trainer

        runners["ignite"] = lambda n: step.engine_trainer(
            create_supervised_trainer, batches[:n]
        )
    prepared = {(name, n): make(n) for name, make in runners.items() for n in STEPS}
    for run in prepared.values():
        run()  # the first run of each allocates and fills caches
    for (name, n), run in prepared.items():
        requests.count_from_zero()
        run()
        requests.stop_and_dump(f"{name} {n}".encode())


def per_step_counts() -> dict[str, float]:
    """{runner: instructions per step}."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as out:
        folder = Path(out)
        library = folder / "requests.so"
        (folder / "requests.c").write_text(REQUESTS)
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O1", "-o", library, folder / "requests.c"],
            check=True,
        )
        result = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",  # start-up uninstrumented: 4x faster
                f"--callgrind-out-file={folder / 'callgrind.out'}",
                sys.executable,
                "-m",
                "bench.step_instructions",
                str(library),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"callgrind run failed:\n{result.stderr[-2000:]}")
        totals = {}
        for dump in folder.glob("callgrind.out*"):
            text = dump.read_text()
            label = re.search(
                r"^desc: Trigger: Client Request: (.+)$", text, re.MULTILINE
            )
            if label:
                total = re.search(r"^totals:\s*(\d+)", text, re.MULTILINE)
                totals[label.group(1)] = int(total.group(1))
    names = [
        name
        for name in ("raw", "generated", "ignite")
        if f"{name} {STEPS[0]}" in totals
    ]
    short, long = STEPS
    return {
        name: (totals[f"{name} {long}"] - totals[f"{name} {short}"]) / (long - short)
        for name in names
    }


def measure(raw_us: float | None = None) -> list[Row]:
    """Rows in instructions per step; given the raw step's time, also in µs."""
    figure = "step instructions (callgrind)"
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        return [Row(figure, "needs valgrind and gcc", None, "")]
    counts = per_step_counts()
    raw = counts["raw"]
    rows = [Row(figure, "raw PyTorch loop", raw, "instr/step", "the baseline")]
    for name, count in counts.items():
        if name == "raw":
            continue
        extra = count - raw
        note = f"{extra / raw:.2%} of the raw step"
        if raw_us is not None:
            note += f" ≈ +{extra / raw * raw_us:.2f} µs of its {raw_us:.0f} µs"
        goal, met = "", None
        if name == "generated" and "ignite" in counts:
            ignite_extra = counts["ignite"] - raw
            note += f"; {extra / ignite_extra:.2f}x ignite's"
            goal, met = "≤ 1/7 of ignite's", extra <= ignite_extra / 7
        rows.append(
            Row(figure, f"{name} trainer", extra, "instr/step", note, goal, met)
        )
    return rows


if __name__ == "__main__":
    child(sys.argv[1])
