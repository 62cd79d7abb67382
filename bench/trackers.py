"""What --mlflow and --wandb cost a run, and what a --sweep trial takes.

    python bench/trackers.py [--data DIR] [--epochs 3]

A project per tracker trains the 4,000 MNIST digits of the sample (batch 128: 32
steps an epoch, the loss logged every --log-interval 20) in one process, with the
logger's methods timed: its cost per epoch is the time spent in its handlers
(training-loss logging and the validation record) over the epochs, its cost per
run the time of starting (store or service, the run, its parameters) and of
finishing (artifacts). Timing the tracker's own calls, not whole runs, keeps the
figures meaningful on a shared machine, where the same epoch takes 3 to 17 s;
W&B's service process works beside training and is not counted. The sweep's time
per trial is the wall time of 4 trials of 2 epochs over 4.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scaffold.options import Options
from scaffold.project import create
from scripts.datasets import mnist_sample

LOGGERS = {"mlflow": "MLflowLogger", "wandb": "WandbLogger"}

# Runs main(argv) with every method of the logger class timed; prints the seconds
# spent starting, in the handlers and finishing, as JSON.
TIMED = """
import json
import sys
import time

from mytrainer import handlers
from mytrainer.train import main

spent = {"start": 0.0, "handlers": 0.0, "finish": 0.0}
cls = getattr(handlers, sys.argv[1])

def timed(method, kind):
    def call(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[kind] += time.perf_counter() - started
    return call

cls._start = timed(cls._start, "start")
cls._log_training = timed(cls._log_training, "handlers")
cls.epoch_completed = timed(cls.epoch_completed, "handlers")
cls._finish = timed(cls._finish, "finish")
main(json.loads(sys.argv[2]))
print(json.dumps(spent))
"""


def wall(root, args, env):
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return time.perf_counter() - started, result.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trackers-"))
    data = options.data or work / "data"
    mnist_sample(data)
    env = {**os.environ, "OMP_NUM_THREADS": "2", "WANDB_MODE": "offline"}
    env.pop("MLFLOW_TRACKING_URI", None)
    argv = ["--data-dir", str(data), "--device", "cpu", "--epochs", str(options.epochs)]
    for name, logger in LOGGERS.items():
        root = create(Options(name="mytrainer", **{name: True}), work / name)
        for when in ("first run (new store)", "later run"):
            _, stdout = wall(root, ["-c", TIMED, logger, json.dumps(argv)], env)
            spent = json.loads(stdout.splitlines()[-1])
            per_epoch = spent["handlers"] / options.epochs
            print(
                f"{name}, {when}: {per_epoch * 1000:.0f} ms/epoch in its handlers; "
                f"start {spent['start']:.2f} s, finish {spent['finish']:.2f} s"
            )
    root = create(Options(name="mytrainer", sweep=True), work / "sweep")
    sweep = ["-m", "mytrainer.sweep", "--trials", "4", "--data-dir", str(data)]
    seconds, _ = wall(root, [*sweep, "--epochs", "2", "--device", "cpu"], env)
    print(f"sweep: {seconds / 4:.1f} s/trial (4 trials of 2 epochs, with pruning)")


if __name__ == "__main__":
    main()
