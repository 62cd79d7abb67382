"""Checkpoints: save everything a run needs to continue exactly, and load it back.

A checkpoint holds the state_dict() of every object given to Checkpointer (model,
optimizer, scheduler, trainer, ...; one given as None, such as the scheduler of a
constant learning rate, is left out). Together with the seeded per-epoch order
of the data loaders this makes a resumed run take exactly the steps the
uninterrupted run would have taken. Files are written to a temporary name and
renamed, so a crash never leaves a half-written checkpoint under a real name.
"""

import os
import random
import re
import signal
import threading
from pathlib import Path
from typing import NamedTuple

import torch

from ..engine import Events
from ..engine.distributed import any_process, is_main_process
from ..engine.sharding import shard_like, whole_tensor
from ..errors import RunError
from .nan_guard import NonFiniteLoss

# checkpoint-00000630.pt (the last ones) and best-00000630-accuracy=0.9812.pt
CHECKPOINT_NAME = re.compile(r"(checkpoint|best)-(\d+)(?:-.+=(.+))?\.pt")


class CheckpointError(RunError):
    """A checkpoint is missing, unreadable or does not fit the training objects."""

    shared = True  # every process reads the same checkpoint


class RunPlan(NamedTuple):
    """What a run was started to do, which a resumed run must keep doing."""

    epochs: int
    epoch_length: int  # iterations an epoch
    annealed_by: str | None  # a schedule that anneals over all the epochs, if any


class RandomStates:
    """The state_dict of every random number generator a run may draw from."""

    def state_dict(self):
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all(),
            "python": random.getstate(),
        }

    def load_state_dict(self, state):
        torch.set_rng_state(state["torch"])
        torch.cuda.set_rng_state_all(state["cuda"])
        random.setstate(state["python"])


class AccumulatedGradients:
    """The gradients summed so far while accumulating batches (none between steps),
    whole when the model is sharded."""

    def __init__(self, model):
        self.model = model

    def state_dict(self):
        return {
            name: whole_tensor(parameter.grad)
            for name, parameter in self.model.named_parameters()
            if parameter.grad is not None
        }

    def load_state_dict(self, state):
        for name, parameter in self.model.named_parameters():
            grad = state.get(name)
            parameter.grad = None if grad is None else shard_like(grad, parameter)


class Checkpointer:
    """Writes checkpoints to a folder, keeping the last `keep_last` and the best
    `keep_best` by a score.

    save(engine) writes checkpoint-<iteration>.pt; save_best(engine, score) writes
    best-<iteration>-<score_name>=<score>.pt when the score is among the best
    `keep_best` so far (higher is better with mode="max", lower with "min").
    epoch_completed(engine, record) does both with the score record[score_name].
    Every process takes part in each save, since a sharded model is gathered from
    all of them; a read_only Checkpointer (every process but the main one, under
    torchrun) loads checkpoints and never writes or deletes one.
    """

    def __init__(
        self,
        directory,
        objects,
        keep_last=2,
        keep_best=0,
        score_name="score",
        mode="max",
        read_only=False,
    ):
        if mode not in ("max", "min"):
            raise ValueError(f"expected mode 'max' or 'min', got {mode!r}")
        self.directory = directory
        self.objects = {
            key: value for key, value in objects.items() if value is not None
        }
        self.keep_last = keep_last
        self.keep_best = keep_best
        self.score_name = score_name
        self.mode = mode
        self.read_only = read_only  # loads, never writes or deletes

    def save(self, engine):
        state = self._state()
        if self.read_only:
            return
        self._write(f"checkpoint-{engine.state.iteration:08d}.pt", state)
        for path in self.files("checkpoint")[: -self.keep_last or None]:
            path.unlink()

    def save_best(self, engine, score):
        if not self.keep_best:
            return
        state = self._state()  # every process, before rank 0 decides
        if self.read_only:
            return
        score = float(score)
        kept = self._best_first()
        if len(kept) >= self.keep_best and self._key(score) <= self._key(
            _score(kept[-1])
        ):
            return  # no better than the worst one kept
        name = f"best-{engine.state.iteration:08d}-{self.score_name}={score:.6g}.pt"
        self._write(name, state)
        for path in self._best_first()[self.keep_best :]:
            path.unlink()

    def start(self, where, trainer, plan):
        """Resume from `where` (a path, or "last") a run that goes on as `plan`
        says, or, with where=None, make sure this folder holds no earlier run to
        mix with. Returns the path resumed from (None: a new run)."""
        if where:
            path = self.resume(where, trainer)
            check_plan(path, trainer.state, plan)
            return path
        if self.files():
            raise CheckpointError(
                f"{self.directory} holds checkpoints of an earlier run; continue it "
                "with --resume last or choose another --output-dir"
            )
        return None

    def attach(self, trainer, after_validation, every=0):
        """Checkpoint after each validation (the handlers run then are
        `after_validation`) and, with `every`, also every this many iterations."""
        after_validation.append(self.epoch_completed)
        if every:
            # An epoch's last iteration is checkpointed after its validation.
            def mid_epoch(engine, iteration):
                last = iteration % engine.state.epoch_length == 0
                return iteration % every == 0 and not last

            trainer.add_event_handler(
                Events.ITERATION_COMPLETED(event_filter=mid_epoch), self.save
            )

    def epoch_completed(self, engine, record):
        self.save(engine)
        self.save_best(engine, record[self.score_name])

    def files(self, kind=None):
        """This folder's checkpoint files (of one kind), oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            match = CHECKPOINT_NAME.fullmatch(path.name)
            if match and kind in (None, match[1]):
                found.append((int(match[2]), path))
        return [path for _, path in sorted(found)]

    def resume(self, where, trainer):
        """Load the checkpoint at path `where`, or with where="last" the newest
        readable one in the folder; returns the path loaded.

        This folder's checkpoints from after the one loaded are deleted: the
        resumed trainer writes them again.
        """
        if where == "last":
            path = self._load_newest()
        else:
            path = load_checkpoint(where, self.objects)
        if not self.read_only:
            for later in self.files():
                if _iteration(later) > trainer.state.iteration:
                    later.unlink()
        return path

    def _load_newest(self):
        for path in reversed(self.files()):
            try:
                return load_checkpoint(path, self.objects)
            except CheckpointError as error:
                if not self.read_only:
                    print(f"warning: {error}; trying the one before")
        raise CheckpointError(f"no readable checkpoint in {self.directory}")

    def _key(self, score):
        return score if self.mode == "max" else -score  # higher is better

    def _best_first(self):
        best = self.files("best")
        return sorted(best, key=lambda p: self._key(_score(p)), reverse=True)

    def _state(self):
        return {key: value.state_dict() for key, value in self.objects.items()}

    def _write(self, name, state):
        self.directory.mkdir(parents=True, exist_ok=True)
        if _holds_non_finite(state):
            raise NonFiniteLoss(
                f"not writing {name}: the weights or the optimizer state hold NaN "
                "or infinite values; try a lower --lr or --clip-grad-norm"
            )
        path = self.directory / name
        temporary = path.with_name(name + ".tmp")
        with open(temporary, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename makes it visible
        os.replace(temporary, path)


class StopOnSignal:
    """Checkpoint and stop training at the next step once `signum` arrives: the
    warning slurm/train.sbatch passes on before the job's time limit. The run
    then goes on with --resume last (a requeued job does so by itself).

    Under torchrun the processes ask each other after every step whether any of
    them got the signal, so that all of them stop after the same one. At an
    epoch's end they stop after its validation, whose checkpoint holds the epoch.
    """

    def __init__(self, checkpointer, signum=signal.SIGUSR1):
        self.checkpointer = checkpointer
        self.signum = signum
        # The sbatch script's mark that the signal came before this round of
        # processes started (torchrun restarted them): they stop at once too.
        stop_file = os.environ.get("TRAIN_STOP_FILE")
        received = self.received = threading.Event()
        if stop_file and os.path.exists(stop_file):
            received.set()
        # The handler holds the flag alone. A bound method would let the signal
        # module keep this run's model and process group alive past the run, to be
        # torn down during the interpreter's exit, where gloo's threads abort it.
        signal.signal(signum, lambda signum, frame: received.set())

    def attach(self, trainer):
        trainer.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)

    def iteration_completed(self, engine):
        state = engine.state
        if not any_process(self.received.is_set()):
            return
        if state.iteration >= state.max_epochs * state.epoch_length:
            return  # the run's last step: it ends anyway
        if state.iteration % state.epoch_length == 0:
            # Validation and its checkpoint first; then the run stops.
            engine.add_event_handler(Events.EPOCH_COMPLETED, self.stop)
            return
        self.checkpointer.save(engine)
        self.stop(engine)

    def stop(self, engine):
        if is_main_process():
            name = signal.Signals(self.signum).name
            print(
                f"{name}: stopped at iteration {engine.state.iteration} after a "
                "checkpoint; continue with --resume last"
            )
        engine.terminate(skip_completed=True)


def check_plan(path, state, plan):
    """Refuse a resumed run that would not go on as its checkpoint's run planned:
    epochs of as many iterations and, for an annealing schedule, as many epochs."""
    if state.epoch_length != plan.epoch_length:
        raise CheckpointError(
            f"{path} is from a run of {state.epoch_length} iterations an epoch, not "
            f"{plan.epoch_length}: resume it with that run's --epoch-length and "
            "--batch-size"
        )
    if plan.annealed_by and state.max_epochs != plan.epochs:
        raise CheckpointError(
            f"{path} is from a {state.max_epochs}-epoch run, over which its "
            f"{plan.annealed_by} schedule anneals: resume it with --epochs "
            f"{state.max_epochs}, or train longer in a new run"
        )
    if state.iteration >= plan.epochs * plan.epoch_length:
        raise CheckpointError(f"that run already trained {plan.epochs} epoch(s)")


def load_checkpoint(path, objects):
    """Restore each object's state_dict from the checkpoint file at `path`."""
    try:
        # weights_only: unpickle tensors and plain containers only, never code.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist") from None
    except Exception as error:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or corrupt?): {error}"
        ) from None
    missing = sorted(set(objects) - set(state))
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
    try:
        for key, value in objects.items():
            value.load_state_dict(state[key])
    except (RuntimeError, ValueError, KeyError) as error:
        # Another model's weights, or another optimizer's or schedule's state.
        reason = str(error).strip().splitlines()[0]
        raise CheckpointError(
            f"{path} does not fit this run's {key}: {reason}"
        ) from None
    return path


def _iteration(path):
    return int(CHECKPOINT_NAME.fullmatch(path.name)[2])


def _score(path):
    return float(CHECKPOINT_NAME.fullmatch(path.name)[3])


def _holds_non_finite(state):
    if isinstance(state, torch.Tensor):
        return state.is_floating_point() and not bool(torch.isfinite(state).all())
    if isinstance(state, dict):
        return any(_holds_non_finite(value) for value in state.values())
    if isinstance(state, (list, tuple)):
        return any(_holds_non_finite(value) for value in state)
    return False


def run_to_resume(where, runs):
    """The run folder that resuming from `where` continues, when --output-dir is
    not given: with "last", the newest folder under `runs` that holds a checkpoint;
    with a path, the run whose checkpoints/ holds it (None: a path from elsewhere,
    whose run goes on in a new folder)."""
    if where == "last":
        found = runs.glob("*/checkpoints/*.pt")
        folders = sorted({path.parent.parent for path in found})
        if not folders:
            raise CheckpointError(f"no run in {runs} has a checkpoint to resume from")
        return folders[-1]
    path = Path(where)
    return path.parent.parent if path.parent.name == "checkpoints" else None
