"""Exact resume: a checkpoint-only project trains on the real MNIST sample, is
killed with SIGKILL as soon as a watched checkpoint file appears, and resumes to the
very weights of the uninterrupted run; and the float16 loss scaler steps exactly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create

from .conftest import CHECKPOINT_KEYS, read_history, run_python

pytestmark = pytest.mark.slow


SCALER_RUN = """
import torch
import torch.nn.functional as F
from mytrainer.engine import Events, create_supervised_trainer
from mytrainer.model import Net

def train(scaler, overflow_at=None):
    torch.manual_seed(0)
    model = Net()
    # As train.py builds it: fused AdamW takes the scaler's found-inf flag itself.
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, fused=True)
    head = model.classifier[-1].weight
    trainer = create_supervised_trainer(
        model, optimizer, F.nll_loss, clip_grad_norm=1.0, scaler=scaler
    )
    # An infinite gradient at one iteration, as a float16 overflow would give.
    head.register_hook(
        lambda grad: grad * float("inf") if trainer.state.iteration == overflow_at else grad
    )
    heads = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: heads.append(head.detach().clone()))
    batches = [(torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(4)]
    trainer.run(batches, max_epochs=1)
    return heads, scaler

plain, _ = train(None)
scaled, scaler = train(torch.amp.GradScaler("cpu", init_scale=2.0**12))
# Scaling by a power of two and back is exact: the same steps as without a scaler.
assert all(torch.allclose(a, b, rtol=1e-6, atol=0) for a, b in zip(plain, scaled))
assert scaler.get_scale() == 2.0**12
skipped, scaler = train(torch.amp.GradScaler("cpu", init_scale=2.0**12), overflow_at=2)
assert torch.equal(skipped[1], skipped[0]), "the overflowing step was taken"
assert not torch.equal(skipped[2], skipped[1]), "training did not go on"
assert scaler.get_scale() == 2.0**11
print("ok")
"""


def test_a_loss_scaler_steps_the_fused_optimizer_exactly_and_skips_overflows(tmp_path):
    # The float16 path train.py takes on GPUs without bfloat16, run on the CPU.
    root = create(Options(name="mytrainer"), tmp_path)
    result = run_python(["-c", SCALER_RUN], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


# ---------------------------------------------------------------- exact resume

# Mid-epoch checkpoints at iterations 3 and 9, epoch ends at 6 and 12; with
# --accumulate 2 the one at 9 is taken between the two halves of an optimizer step,
# and --amp on autocasts to bfloat16 on the CPU.
RESUMABLE = [
    "--epochs",
    "2",
    "--epoch-length",
    "6",
    "--device",
    "cpu",
    "--checkpoint-every",
    "3",
    "--accumulate",
    "2",
    "--clip-grad-norm",
    "1.0",
    "--keep-last",
    "10",
    "--amp",
    "on",
]


@pytest.fixture(scope="module")
def resumable(tmp_path_factory, mnist_root):
    """A checkpoint-only project and its uninterrupted run in `reference/`
    (read-only: tests copy it); returns (root, args), args(output_dir, *more)
    giving the command line of that run into another folder."""
    root = create(
        Options(name="mytrainer", checkpoint=True), tmp_path_factory.mktemp("resume")
    )

    def args(output_dir, *more):
        return [
            "-m",
            "mytrainer.train",
            "--data-dir",
            str(mnist_root),
            "--output-dir",
            str(output_dir),
            *RESUMABLE,
            *more,
        ]

    reference = run_python(args("reference"), cwd=root)
    assert reference.returncode == 0, reference.stderr[-3000:]
    return root, args


def final_state(run_dir):
    return torch.load(
        Path(run_dir) / "checkpoints/checkpoint-00000012.pt", weights_only=True
    )


def assert_same_training(run_dir, reference_dir):
    got, expected = final_state(run_dir), final_state(reference_dir)
    assert got["trainer"] == expected["trainer"]
    assert got["model"].keys() == expected["model"].keys()
    for name, tensor in expected["model"].items():
        assert torch.equal(got["model"][name], tensor), name
    for index, values in expected["optimizer"]["state"].items():
        saved = got["optimizer"]["state"][index]
        for key, tensor in values.items():
            assert torch.equal(saved[key], tensor), (index, key)
    assert got["scheduler"] == expected["scheduler"]
    assert epoch_records(run_dir) == epoch_records(reference_dir)


def epoch_records(run_dir):
    """metrics.jsonl's rows without the time each epoch took and the training loss
    (see test_a_run_resumed_mid_epoch_records_the_uninterrupted_train_loss)."""
    rows = read_history(Path(run_dir) / "metrics.jsonl")
    unequal = {"seconds", "train_loss"}
    return [{k: v for k, v in row.items() if k not in unequal} for row in rows]


def kill_when_written(args, cwd, watched: Path, timeout=300):
    """Run python with args, SIGKILL it as soon as `watched` exists, and check it was
    still running then (so it really was interrupted)."""
    environment = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONHASHSEED": "0"}
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    try:
        while not watched.exists():
            assert (
                process.poll() is None
            ), f"ended before writing {watched}: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, f"no {watched} after {timeout}s"
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL


def test_the_reference_run_keeps_its_last_checkpoints_and_states_every_object(
    resumable,
):
    root, _ = resumable
    checkpoints = sorted(p.name for p in (root / "reference/checkpoints").iterdir())
    assert [name for name in checkpoints if name.startswith("checkpoint-")] == [
        f"checkpoint-{iteration:08d}.pt" for iteration in (3, 6, 9, 12)
    ]
    state = final_state(root / "reference")
    assert set(state) == set(CHECKPOINT_KEYS)
    assert state["trainer"]["iteration"] == 12
    assert state["gradients"] == {}, "an epoch ends on an optimizer step"


@pytest.fixture(scope="module")
def killed_twice(resumable):
    """The reference run killed at its epoch end, resumed from there and killed
    again mid-epoch, mid-accumulation, then resumed to the end in `killed/`."""
    root, args = resumable
    checkpoints = root / "killed/checkpoints"
    kill_when_written(args("killed"), root, checkpoints / "checkpoint-00000006.pt")
    kill_when_written(
        args("killed", "--resume", str(checkpoints / "checkpoint-00000006.pt")),
        root,
        checkpoints / "checkpoint-00000009.pt",
    )
    halfway = torch.load(checkpoints / "checkpoint-00000009.pt", weights_only=True)
    resumed = run_python(
        args("killed", "--resume", str(checkpoints / "checkpoint-00000009.pt")),
        cwd=root,
    )
    return root, halfway, resumed


def test_killed_at_an_epoch_end_and_mid_epoch_resumes_to_identical_weights(
    killed_twice,
):
    root, halfway, resumed = killed_twice
    assert halfway["gradients"], "no gradients saved between two accumulated halves"
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout and "at iteration 9" in resumed.stdout
    history = read_history(root / "killed/metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    assert_same_training(root / "killed", root / "reference")


def test_a_run_resumed_mid_epoch_records_the_uninterrupted_train_loss(killed_twice):
    root, _, resumed = killed_twice
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    resumed_loss = read_history(root / "killed/metrics.jsonl")[-1]["train_loss"]
    reference_loss = read_history(root / "reference/metrics.jsonl")[-1]["train_loss"]
    assert resumed_loss == pytest.approx(reference_loss, rel=1e-6)


def test_a_truncated_checkpoint_is_rejected_by_name_and_last_takes_the_previous(
    resumable,
):
    root, args = resumable
    # The folder a run killed while writing checkpoint 9 would leave: nothing later.
    shutil.copytree(root / "reference", root / "truncated")
    for path in (root / "truncated/checkpoints").iterdir():
        if int(re.search(r"-(\d{8})", path.name)[1]) > 9:
            path.unlink()
    newest = root / "truncated/checkpoints/checkpoint-00000009.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])

    rejected = run_python(args("truncated", "--resume", str(newest)), cwd=root)
    assert rejected.returncode == 1
    [line] = rejected.stderr.strip().splitlines()
    assert line.startswith(
        f"error: {newest} is not a readable checkpoint (truncated or corrupt?): "
    )

    resumed = run_python(args("truncated", "--resume", "last"), cwd=root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    relative = newest.relative_to(root)  # as the run finds it in --output-dir
    assert f"warning: {relative} is not a readable checkpoint" in resumed.stdout
    assert "trying the one before" in resumed.stdout
    assert "at iteration 6" in resumed.stdout
    assert_same_training(root / "truncated", root / "reference")


# Counts the modules still alive once main() has returned and garbage is collected.
ALIVE_AFTER_MAIN = """
import gc
import sys

import torch

from mytrainer.train import main

main(sys.argv[1:])
gc.collect()
print(sum(isinstance(o, torch.nn.Module) for o in gc.get_objects()))
"""


def test_a_finished_run_keeps_nothing_alive(resumable, tmp_path):
    # Whatever outlives main() is torn down by the interpreter's exit; under
    # torchrun that includes the process group, whose worker threads can then
    # abort the process after a complete run.
    root, args = resumable
    argv = args(tmp_path / "run", "--epochs", "1", "--epoch-length", "2")[2:]
    result = run_python(["-c", ALIVE_AFTER_MAIN, *argv], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "0"


def test_a_fresh_run_refuses_a_folder_holding_checkpoints(resumable):
    root, args = resumable
    shutil.copytree(root / "reference", root / "earlier")
    # Without the history, the folder holds only the checkpoints of that run.
    (root / "earlier/metrics.jsonl").unlink()
    before = sorted(p.name for p in (root / "earlier/checkpoints").iterdir())
    result = run_python(args("earlier"), cwd=root)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "holds checkpoints of an earlier run; continue it with --resume last" in line
    assert sorted(p.name for p in (root / "earlier/checkpoints").iterdir()) == before


# ------------------------------------------------- resume after a kill at any step

# Two epochs of 3 iterations, a checkpoint after each, gradients summed over 2
# batches: the kills land at epoch ends, mid-epoch and between the two halves of an
# optimizer step, in the first epoch (where only the running loss carries the
# epoch's train_loss) and in the second.
EVERY_STEP = [
    *("--epochs", "2", "--epoch-length", "3", "--batch-size", "32"),
    *("--checkpoint-every", "1", "--keep-last", "10", "--accumulate", "2"),
    *("--clip-grad-norm", "1.0", "--device", "cpu", "--amp", "off"),
]
ITERATIONS = 6

# Runs train.main in forked children of one process that imported torch once: the
# reference, then one killed (os._exit: nothing more runs, no file is closed) right
# after each checkpoint but the last is written, then each killed run resumed with
# --resume last. Prints each child's exit status as the last line, in JSON.
KILLED_AT_EVERY_STEP = r"""
import json
import os
import random
import sys
import traceback

import torch

from mytrainer.handlers.checkpoint import Checkpointer
from mytrainer.train import main

flags, iterations = json.loads(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(1)  # forked children: no thread pool to inherit
write = Checkpointer._write


def run(output_dir, *more, kill_after=None):
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    status = 0
    # A forked child reseeds Python's random from the OS (os.register_at_fork); the
    # run draws nothing from it, so each child starts it where a fresh one would be
    # with a fixed seed, and the checkpoint's copy of it can be compared.
    random.seed(0)
    try:
        if kill_after is not None:

            def write_then_die(self, name, state):
                write(self, name, state)
                if name == f"checkpoint-{kill_after:08d}.pt":
                    os._exit(9)

            Checkpointer._write = write_then_die
        main([*flags, "--output-dir", output_dir, *more])
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    os._exit(status)


statuses = {"reference": run("reference")}
for k in range(1, iterations):
    statuses[f"killed-{k}"] = run(f"run-{k}", kill_after=k)
    statuses[f"resumed-{k}"] = run(f"run-{k}", "--resume", "last")
print(json.dumps(statuses))
"""


def assert_identical(got, expected, where="checkpoint"):
    """Equal, tensor for tensor (torch.equal: same values, same dtype and shape)."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, torch.Tensor), where
        assert got.dtype == expected.dtype and torch.equal(got, expected), where
    elif isinstance(expected, dict):
        assert got.keys() == expected.keys(), where
        for key, value in expected.items():
            assert_identical(got[key], value, f"{where}[{key!r}]")
    elif isinstance(expected, list | tuple):
        assert len(got) == len(expected), where
        for n, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
            assert_identical(mine, theirs, f"{where}[{n}]")
    else:
        assert got == expected, where


def test_a_run_killed_after_any_iteration_resumes_to_the_identical_run(
    tmp_path, mnist_root
):
    root = create(Options(name="mytrainer", checkpoint=True), tmp_path)
    flags = ["--data-dir", str(mnist_root), *EVERY_STEP]
    result = run_python(
        ["-c", KILLED_AT_EVERY_STEP, json.dumps(flags), str(ITERATIONS)],
        cwd=root,
        OMP_NUM_THREADS="1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = json.loads(result.stdout.splitlines()[-1])
    assert statuses.pop("reference") == 0, result.stderr[-3000:]

    last = f"checkpoints/checkpoint-{ITERATIONS:08d}.pt"
    expected = torch.load(root / "reference" / last, weights_only=True)
    assert set(expected) == set(CHECKPOINT_KEYS)
    history = read_history(root / "reference/metrics.jsonl")
    for row in history:
        del row["seconds"]  # the only value a clock gives
    assert [row["epoch"] for row in history] == [1, 2]
    for k in range(1, ITERATIONS):  # (after the last one, there is nothing to do)
        assert statuses[f"killed-{k}"] == 9, f"the run was not killed after {k}"
        assert statuses[f"resumed-{k}"] == 0, result.stderr[-3000:]
        run = root / f"run-{k}"
        assert_identical(
            torch.load(run / last, weights_only=True), expected, f"killed after {k}"
        )
        rows = read_history(run / "metrics.jsonl")
        for row in rows:
            del row["seconds"]
        assert rows == history, f"killed after {k}"
