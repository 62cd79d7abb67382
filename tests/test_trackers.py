"""--mlflow and --wandb against the real trackers, offline: MLflow's sqlite store
and W&B's offline run files, read back with their own libraries.

One project with both trains once into its default run folder: every flag of
config.json is a parameter, every number of metrics.jsonl is a metric at its
epoch, the training loss is logged every --log-interval and model.pt is an
artifact. Then a run whose MLflow server cannot be reached ends complete, after
one warning line.
"""

from __future__ import annotations

import json
import struct

import pytest

from scaffold.options import Options
from scaffold.project import create

from .conftest import read_history, run_python

pytestmark = pytest.mark.slow  # trains, or runs a generated program

mlflow = pytest.importorskip("mlflow")
wandb_records = pytest.importorskip("wandb.proto.wandb_internal_pb2")

EPOCHS, EPOCH_LENGTH, LOG_INTERVAL = 2, 4, 2
SHORT = ["--epochs", str(EPOCHS), "--epoch-length", str(EPOCH_LENGTH)]
SHORT += ["--device", "cpu", "--log-interval", str(LOG_INTERVAL)]
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there

# The second run names its tracking server in the environment.
TWO_RUNS = """
import json
import os
import sys

from mytrainer.train import main

main(json.loads(sys.argv[1]))
os.environ["MLFLOW_TRACKING_URI"] = sys.argv[2]
main(json.loads(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, mnist_root):
    """The project, its two runs' folders, and what the second printed."""
    folder = tmp_path_factory.mktemp("trackers")
    root = create(Options(name="mytrainer", mlflow=True, wandb=True), folder)
    argv = ["--data-dir", str(mnist_root), *SHORT]
    home = folder / "home"  # W&B's settings and caches, away from the user's
    result = run_python(
        ["-c", TWO_RUNS, json.dumps(argv), UNREACHABLE],
        cwd=root,
        HOME=str(home),
        WANDB_CONFIG_DIR=str(home / "config"),
        WANDB_CACHE_DIR=str(home / "cache"),
        WANDB_DATA_DIR=str(home / "data"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [line[5:] for line in result.stdout.splitlines() if line.startswith("run: ")]
    return root, [root / run for run in runs], result.stdout


def numbers(record):
    """The numbers of a metrics.jsonl row by tracker name: per-class scores as
    <name>/<class>."""
    flat = {}
    for name, value in record.items():
        if isinstance(value, dict):
            flat.update({f"{name}/{c}": v for c, v in value.items()})
        elif isinstance(value, (int, float)):
            flat[name] = value
    return flat


def test_mlflow_holds_the_flags_every_metric_and_the_model(tracked):
    root, (run_dir, _), _ = tracked
    client = mlflow.tracking.MlflowClient(f"sqlite:///{root / 'runs/mlflow.db'}")
    experiment = client.get_experiment_by_name("mytrainer")
    [run] = client.search_runs(
        [experiment.experiment_id], f"attributes.run_name = '{run_dir.name}'"
    )
    config = json.loads((run_dir / "config.json").read_text())
    assert run.data.params == {k: str(v) for k, v in config["flags"].items()}
    assert run.info.status == "FINISHED"
    history = read_history(run_dir / "metrics.jsonl")
    for row in history:
        for name, value in numbers(row).items():
            logged = client.get_metric_history(run.info.run_id, name)
            assert (row["epoch"], value) in [(m.step, m.value) for m in logged], name
    losses = client.get_metric_history(run.info.run_id, "train/loss")
    steps = range(LOG_INTERVAL, EPOCHS * EPOCH_LENGTH + 1, LOG_INTERVAL)
    assert [m.step for m in losses] == list(steps)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"model.pt", "metrics.jsonl", "config.json"}


def wandb_run_records(run_dir):
    """The records of the offline W&B run in `run_dir`: its .wandb file is a
    LevelDB-format log (32 KiB blocks of checksummed chunks) of protobufs."""
    [path] = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    data, block, position, pending, records = path.read_bytes(), 32768, 7, b"", []
    assert data.startswith(b":W&B")
    while position + 7 <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if left < 7 or (kind, length) == (0, 0):  # the block's padding
            position += left
            continue
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = wandb_records.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def test_wandb_offline_run_holds_the_flags_every_metric_and_the_model(tracked):
    _, (run_dir, _), stdout = tracked
    records = wandb_run_records(run_dir)
    [run] = [r.run for r in records if r.HasField("run")]
    assert run.display_name == run_dir.name and run.project == "mytrainer"
    config = json.loads((run_dir / "config.json").read_text())
    logged_config = {
        item.key: json.loads(item.value_json)
        for item in run.config.update
        if not item.key.startswith("_")
    }
    assert logged_config == config["flags"]
    steps = {}
    for record in records:
        if record.HasField("history"):
            items = {
                i.nested_key[0]: json.loads(i.value_json) for i in record.history.item
            }
            steps[items["_step"]] = items
    for row in read_history(run_dir / "metrics.jsonl"):
        logged = steps[row["epoch"] * EPOCH_LENGTH]
        for name, value in numbers(row).items():
            assert logged[name] == value, name
    losses = [step for step, items in steps.items() if "train/loss" in items]
    assert losses == list(range(LOG_INTERVAL, EPOCHS * EPOCH_LENGTH + 1, LOG_INTERVAL))
    [artifact] = [r.artifact for r in records if r.HasField("artifact")]
    assert artifact.type == "model"
    assert [entry.path for entry in artifact.manifest.contents] == ["model.pt"]
    assert (
        f"W&B: offline run in {run_dir.relative_to(run_dir.parent.parent)}/wandb/"
        in stdout
    )


def test_an_unreachable_mlflow_server_is_one_warning_and_the_run_completes(tracked):
    _, (first, second), stdout = tracked
    warnings = [line for line in stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: MLflow: ")
    assert warnings[0].endswith("; training goes on without it")
    assert {"model.pt", "last.pt", "metrics.jsonl", "config.json"} <= {
        p.name for p in second.iterdir()
    }
    rows = read_history(second / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == list(range(1, EPOCHS + 1))
    # The same run as the first, tracked or not.
    assert [row["nll"] for row in rows] == [
        row["nll"] for row in read_history(first / "metrics.jsonl")
    ]
