"""MLflow tracking: each run's flags, training loss, validation records and model.

Runs go where MLFLOW_TRACKING_URI says, else to the sqlite store runs/mlflow.db
(artifacts in runs/mlartifacts/), which needs no server:

    mlflow ui --backend-store-uri sqlite:///runs/mlflow.db

A tracker that cannot be reached costs one warning line; training goes on.
"""

import json
import os
import re
import time

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from ..engine import Events
from ..run_folder import RUNS

# MLflow retries a request with growing pauses for minutes by default; a run does
# not wait that long for a tracker (the environment can still say otherwise).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


class MLflowLogger:
    """Logs the run in `run_dir` as an MLflow run of the experiment named after
    this project (the run takes the folder's name).

    When training starts: every flag of the run's config.json as a parameter. Every
    `every` iterations, once attached: train/loss and train/lr against the
    iteration. After each validation, epoch_completed(engine, record) logs every
    number of the epoch's record under its metrics.jsonl name against the epoch
    (per-class scores as <name>/<class>). At the end: model.pt, metrics.jsonl
    and config.json as artifacts. The first failure ends the logging, with one
    warning line.
    """

    def __init__(self, run_dir, optimizer, every=50):
        self.run_dir = run_dir
        self.optimizer = optimizer
        self.every = every
        self.run_id = self.client = None

    def attach(self, engine):
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(
            Events.ITERATION_COMPLETED(every=self.every), self._log_training
        )
        engine.add_event_handler(Events.COMPLETED, self._finish)

    def _start(self, _):
        self.client = self._try(self._open_run)

    def _open_run(self):
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        artifacts = None
        if not uri:
            RUNS.mkdir(parents=True, exist_ok=True)
            uri = f"sqlite:///{RUNS / 'mlflow.db'}"
            artifacts = (RUNS / "mlartifacts").resolve().as_uri()
        client = MlflowClient(tracking_uri=uri)
        name = __package__.split(".")[0]
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            experiment_id = client.create_experiment(name, artifacts)
        else:
            experiment_id = experiment.experiment_id
        run = client.create_run(experiment_id, run_name=self.run_dir.name)
        self.run_id = run.info.run_id
        config = json.loads((self.run_dir / "config.json").read_text())
        params = [Param(name, str(value)) for name, value in config["flags"].items()]
        client.log_batch(self.run_id, params=params)
        return client

    def _log_training(self, engine):
        step = engine.state.iteration
        loss = float(engine.state.metrics["loss"])
        lr = self.optimizer.param_groups[0]["lr"]
        self._log({"train/loss": loss, "train/lr": lr}, step)

    def epoch_completed(self, engine, record):
        numbers = {}
        for name, value in record.items():
            if isinstance(value, dict):  # per-class scores
                numbers.update({f"{name}/{c}": v for c, v in value.items()})
            else:
                numbers[name] = value
        self._log(numbers, record["epoch"])

    def _log(self, numbers, step):
        now = int(time.time() * 1000)
        metrics = [
            Metric(metric_name(name), float(value), now, step)
            for name, value in numbers.items()
            if isinstance(value, (int, float))  # not a confusion matrix
        ]
        if self.client is not None:
            self._try(self.client.log_batch, self.run_id, metrics=metrics)

    def _finish(self, _):
        if self.client is None:
            return
        for name in ("model.pt", "metrics.jsonl", "config.json"):
            if (self.run_dir / name).is_file():
                self._try(self.client.log_artifact, self.run_id, self.run_dir / name)
        if self.client is not None:
            self._try(self.client.set_terminated, self.run_id)

    def _try(self, call, *args, **kwargs):
        """call(*args, **kwargs), or None after a warning that stops the logging:
        training never stops for the tracker."""
        try:
            return call(*args, **kwargs)
        except Exception as error:  # MLflow's, the network's, the database's
            cause = str(error).strip().splitlines() or [type(error).__name__]
            print(f"warning: MLflow: {cause[0]}; training goes on without it")
            self.client = None
            return None


def metric_name(text):
    """`text` as an MLflow metric name, which allows letters, digits and _-. /"""
    return re.sub(r"[^\w\-. /]", "_", text)
