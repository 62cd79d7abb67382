"""Weights & Biases tracking: each run's flags, training loss, validation records
and model.

Offline unless the environment says otherwise (WANDB_MODE=online after `wandb
login`): the run is kept in <run folder>/wandb/, and `wandb sync` uploads it later.
A tracker that cannot be reached costs one warning line; training goes on.
"""

import json
import os

import wandb

from ..engine import Events


class WandbLogger:
    """Logs the run in `run_dir` as a W&B run of the project named after this
    one (the run takes the folder's name).

    When training starts: every flag of the run's config.json as the run's config. Every
    `every` iterations, once attached: train/loss and train/lr. After each
    validation, epoch_completed(engine, record) logs every number of the epoch's
    record under its metrics.jsonl name (per-class scores as <name>/<class>).
    Everything is logged against the iteration. At the end: model.pt as a model
    artifact. The first failure ends the logging, with one warning line.
    """

    def __init__(self, run_dir, optimizer, every=50):
        self.run_dir = run_dir
        self.optimizer = optimizer
        self.every = every
        self.run = None

    def attach(self, engine):
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(
            Events.ITERATION_COMPLETED(every=self.every), self._log_training
        )
        engine.add_event_handler(Events.COMPLETED, self._finish)

    def _start(self, _):
        config = json.loads((self.run_dir / "config.json").read_text())
        self.run = self._try(
            wandb.init,
            project=__package__.split(".")[0],
            name=self.run_dir.name,
            dir=self.run_dir,
            config=config["flags"],
            mode=None if "WANDB_MODE" in os.environ else "offline",
            reinit="create_new",  # a sweep starts several runs in one process
            settings=wandb.Settings(silent=True, init_timeout=30),
        )

    def _log_training(self, engine):
        loss = float(engine.state.metrics["loss"])
        lr = self.optimizer.param_groups[0]["lr"]
        self._log({"train/loss": loss, "train/lr": lr}, engine.state.iteration)

    def epoch_completed(self, engine, record):
        numbers = {}
        for name, value in record.items():
            if isinstance(value, dict):  # per-class scores
                numbers.update({f"{name}/{c}": v for c, v in value.items()})
            elif isinstance(value, (int, float)):  # not a confusion matrix
                numbers[name] = value
        self._log(numbers, engine.state.iteration)

    def _log(self, numbers, step):
        if self.run is not None:
            self._try(self.run.log, numbers, step=step)

    def _finish(self, _):
        run = self.run
        if run is None:
            return
        model = wandb.Artifact(f"model-{run.id}", type="model")
        model.add_file(str(self.run_dir / "model.pt"))
        self._try(run.log_artifact, model)
        self._try(run.finish)
        if run.settings.mode == "offline":
            print(f"W&B: offline run in {run.settings.sync_dir}; wandb sync uploads it")

    def _try(self, call, *args, **kwargs):
        """call(*args, **kwargs), or None after a warning that stops the logging:
        training never stops for the tracker."""
        try:
            return call(*args, **kwargs)
        except Exception as error:  # W&B's, the network's
            cause = str(error).strip().splitlines() or [type(error).__name__]
            print(f"warning: W&B: {cause[0]}; training goes on without it")
            self.run = None
            return None
