"""Tune the training flags with Optuna: each trial is one training run.

    python -m mytrainer.sweep --trials 20 --data-dir DIR --epochs 3
    python -m mytrainer.sweep --trials 10 --data-dir DIR --epochs 3   # 10 more

Each trial draws the flags of SEARCH_SPACE (edit it) and trains with them and the
train flags given here, in a run folder of its own under runs/. Trials are drawn
by TPE, which draws near the flags that scored well so far; a trial whose score
at an epoch is below the median of the earlier trials' at that epoch stops there
(pruned). The study is kept in --storage (sqlite), so the next invocation with
the same --study goes on with it. The score is --monitor's best epoch; the last
line names the best trial and the command that trains it again.

The trials run one after another in this process; under torchrun the sweep is
refused (launch a trial's train command with torchrun instead).
"""

import argparse
import shlex

import optuna

from .arguments import ArgumentParser, HelpFormatter, positive_int
from .config import parse_args
from .engine.distributed import launched_by_torchrun
from .errors import Interrupted, RunError, UsageError, fail
from .handlers.nan_guard import NonFiniteLoss
from .run_folder import RUNS, new_run_folder
from .train import train

# The flags each trial draws: a train flag's name (as in config.json) and the
# arguments of Optuna's trial.suggest_categorical (choices) or suggest_float /
# suggest_int (low, high, log: drawn evenly on a log scale; step).
SEARCH_SPACE = {
    "lr": {"low": 1e-4, "high": 3e-2, "log": True},  # the peak learning rate
    "weight_decay": {"low": 1e-5, "high": 0.1, "log": True},
    "batch_size": {"choices": [32, 64, 128, 256]},
    # net's channels and hidden units, times this; drawn only when --model is net
    # (torchvision's models have widths of their own).
    "width": {"choices": [0.5, 1.0, 2.0]},
}
# The flags of SEARCH_SPACE that only --model net takes.
NET_ONLY = ("width",)


def parse_sweep_args(argv):
    """The sweep's own flags, and the train flags every trial shares."""
    parser = ArgumentParser(
        description="Tune the train flags of SEARCH_SPACE (sweep.py) with Optuna; "
        "other flags go to every trial's training run.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--trials", type=positive_int, required=True, help="trials to run now"
    )
    parser.add_argument(
        "--storage",
        type=sqlite_url,
        default=f"sqlite:///{RUNS / 'sweep.db'}",
        help="the sqlite database that keeps the study",
    )
    parser.add_argument(
        "--study",
        default=__package__,
        help="the study's name: the same name goes on with the same study",
    )
    return parser.parse_known_args(argv)


def sqlite_url(text):
    if not text.startswith("sqlite:///"):
        raise argparse.ArgumentTypeError(
            f"expected sqlite:///FILE.db (a study is kept in sqlite), got {text}"
        )
    return text


def main(argv=None):
    try:
        if launched_by_torchrun():
            raise UsageError(
                "the sweep runs its trials one after another in one process: "
                "start it with python, not torchrun"
            )
        sweep, train_argv = parse_sweep_args(argv)
        args = parse_args(train_argv)  # every trial's flags, checked before any
        check_train_flags(args, train_argv)
        RUNS.mkdir(parents=True, exist_ok=True)  # the trials' and the study's home
        study = open_study(sweep.storage, sweep.study, args.monitor_mode, args.seed)
        optimize(study, sweep.trials, train_argv, args)
    except RunError as error:
        fail(error)
    except KeyboardInterrupt:
        fail(Interrupted("interrupted; the finished trials are kept in the study"))


def searched(model):
    """The flags of SEARCH_SPACE that trials of `model` draw."""
    if model == "net":
        return SEARCH_SPACE
    return {k: v for k, v in SEARCH_SPACE.items() if k not in NET_ONLY}


def check_train_flags(args, train_argv):
    """Refuse train flags that the trials set themselves, and a SEARCH_SPACE name
    that is no train flag."""
    if args.output_dir is not None:
        raise UsageError(
            f"argument --output-dir: each trial makes a folder of its own in {RUNS}/; "
            "leave it out"
        )
    for name in searched(args.model):
        if name not in vars(args):
            raise UsageError(f"SEARCH_SPACE in sweep.py: {name}: no such flag")
        if any(word.split("=")[0] == flag(name) for word in train_argv):
            raise UsageError(
                f"argument {flag(name)}: each trial draws it (SEARCH_SPACE in "
                "sweep.py); leave it out"
            )


def open_study(storage, name, mode, seed):
    """The study `name` in `storage`, made when it is new."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the trials print theirs
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction="maximize" if mode == "max" else "minimize",
            load_if_exists=True,
            # After the first two trials, one that scores below the median of the
            # trials before it at the same epoch stops there.
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2),
        )
    except Exception as error:  # sqlite's, SQLAlchemy's or Optuna's
        cause = str(error).strip().splitlines() or [type(error).__name__]
        raise UsageError(f"argument --storage: {storage}: {cause[0]}") from None
    if study.direction.name.lower()[:3] != mode:
        raise UsageError(
            f"argument --study: {name} in {storage} was scored the other way; "
            "choose another --study or the same --monitor-mode"
        )
    # Seeded by the number of trials so far: a continued study draws new flags.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


def optimize(study, trials, train_argv, shared):
    """Run `trials` more trials of `study`, each training with `train_argv` (which
    `shared` holds parsed) and the flags it draws."""
    space = searched(shared.model)

    def objective(trial):
        drawn = {name: suggest(trial, name, s) for name, s in space.items()}
        argv = [*train_argv, *(f"{flag(name)}={v}" for name, v in drawn.items())]
        args = parse_args(argv)
        args.output_dir = new_run_folder()
        command = shlex.join(["python", "-m", f"{__package__}.train", *argv])
        trial.set_user_attr("run", str(args.output_dir))
        trial.set_user_attr("command", command)
        print(f"trial {trial.number}: {args.output_dir}")
        pruning = Pruning(trial, args.monitor)
        history = train(args, shared.device, on_validation=[pruning.epoch_completed])
        if pruning.pruned_at is not None:
            print(f"trial {trial.number}: pruned at epoch {pruning.pruned_at}")
            raise optuna.TrialPruned()
        return history.best(args.monitor, args.monitor_mode)[args.monitor]

    # A trial whose loss went non-finite (a learning rate too high) fails alone.
    study.optimize(objective, n_trials=trials, catch=(NonFiniteLoss,))
    finished = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    if not finished:
        print(f"no trial of {len(study.trials)} has finished unpruned yet")
        return
    best = study.best_trial
    print(
        f"best: trial {best.number} of {len(study.trials)}, {best.value:.4f} "
        f"({best.user_attrs['run']}); again: {best.user_attrs['command']}"
    )


def flag(name):
    """The command-line flag of a config.json name: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def suggest(trial, name, space):
    """The value of flag `name` that `trial` draws from `space` (SEARCH_SPACE's)."""
    if "choices" in space:
        return trial.suggest_categorical(name, space["choices"])
    if isinstance(space["low"], int) and isinstance(space["high"], int):
        return trial.suggest_int(name, **space)
    return trial.suggest_float(name, **space)


class Pruning:
    """Reports each epoch's score to the trial, and ends the training run (through
    the trainer's terminate()) when Optuna's pruner says the trial falls behind."""

    def __init__(self, trial, monitor):
        self.trial = trial
        self.monitor = monitor
        self.pruned_at = None

    def epoch_completed(self, engine, record):
        self.trial.report(record[self.monitor], record["epoch"])
        if self.trial.should_prune():
            self.pruned_at = record["epoch"]
            engine.terminate()


if __name__ == "__main__":
    main()
