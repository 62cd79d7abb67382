"""What --mlflow and --wandb cost a run, and what a --sweep trial takes.

    python bench/trackers.py [--data DIR] [--repeats 2]

A project per tracker (and one with neither) trains the 4,000 MNIST digits of the
sample for 1 and for 4 epochs (batch 128: 32 steps an epoch, the loss logged every
20); a tracker's cost per epoch is the slope of its wall time over epochs minus
the plain project's, its cost per run the intercept's difference (import, store
and run creation, the artifacts at the end). The sweep's time per trial is the
wall time of 4 trials of 2 epochs over 4. Medians of --repeats; CPU, 2 threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scaffold.options import Options  # noqa: E402
from scaffold.project import create  # noqa: E402
from scripts.datasets import mnist_sample  # noqa: E402

VARIANTS = {"plain": {}, "mlflow": {"mlflow": True}, "wandb": {"wandb": True}}


def wall(root, args, env):
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=root, env=env, capture_output=True, text=True
    )
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path)
    parser.add_argument("--repeats", type=int, default=2)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trackers-"))
    data = options.data or work / "data"
    mnist_sample(data)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "WANDB_MODE": "offline"}
    env.pop("MLFLOW_TRACKING_URI", None)
    train = ["mytrainer.train", "--data-dir", str(data), "--device", "cpu"]
    times = {}
    for name, features in VARIANTS.items():
        root = create(Options(name="mytrainer", **features), work / name)
        wall(root, [*train, "--epochs", "1", "--epoch-length", "2"], env)  # warm-up
        for epochs in (1, 4):
            runs = [wall(root, [*train, "--epochs", str(epochs)], env)]
            runs += [
                wall(root, [*train, "--epochs", str(epochs)], env)
                for _ in range(options.repeats - 1)
            ]
            times[name, epochs] = statistics.median(runs)
    for name in VARIANTS:
        slope = (times[name, 4] - times[name, 1]) / 3
        intercept = times[name, 1] - slope
        print(f"{name}: {slope:.2f} s/epoch, {intercept:.2f} s/run")
        if name != "plain":
            plain_slope = (times["plain", 4] - times["plain", 1]) / 3
            plain_intercept = times["plain", 1] - plain_slope
            print(
                f"  overhead: {slope - plain_slope:+.3f} s/epoch, "
                f"{intercept - plain_intercept:+.2f} s/run"
            )
    root = create(Options(name="mytrainer", sweep=True), work / "sweep")
    sweep = ["mytrainer.sweep", "--trials", "4", "--data-dir", str(data)]
    seconds = wall(root, [*sweep, "--epochs", "2", "--device", "cpu"], env)
    print(f"sweep: {seconds / 4:.1f} s/trial (4 trials of 2 epochs, with pruning)")


if __name__ == "__main__":
    main()
