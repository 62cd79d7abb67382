"""A folder per run, its config.json and --config replay, in real projects.

Without --output-dir every run gets a new folder under runs/, named by its start
time, never shared (two runs in a row, two at once, many processes in the same
second); the folder's config.json holds every resolved flag, the command line,
the versions and the git state, and `--config` repeats the run bit for bit on
the CPU, with the flags given on the command line winning. Bad config files are
one line each and leave nothing behind.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import pytest
import torch
import torchvision
from PIL import Image

from scaffold import __version__
from scaffold.options import Options
from scaffold.project import create
from scripts.datasets import sample_split

from .conftest import HELP_HINT, read_history, run_python

pytestmark = pytest.mark.slow  # trains, or runs a generated program

SHORT = ["--epochs", "1", "--epoch-length", "3", "--device", "cpu"]
RUN_LINE = re.compile(r"run: (runs/\d{8}-\d{6}-[0-9a-f]{4})$")
RUN_FILES = {"classes.json", "config.json", "last.pt", "metrics.jsonl", "model.pt"}


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def committed(root):
    """`root`, committed to a git repository of its own."""
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "new")
    return root


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    """A checkpointing project in a git repository of its own."""
    folder = tmp_path_factory.mktemp("p")
    return committed(create(Options(name="mytrainer", checkpoint=True), folder))


# Runs one after another in one process, torch imported once: each train.main(argv)
# prints its run folder first; an argv that starts with "predict" is predict's.
TRAIN_EACH = """
import json
import sys

from mytrainer import predict, train

for argv in json.loads(sys.argv[1]):
    if argv[0] == "predict":
        predict.main(argv[1:])
    else:
        train.main(argv)
"""


@pytest.fixture(scope="module")
def runs(repository, mnist_root):
    """The run folders of: two default runs in a row, a --resume last --epochs 2,
    a replay of the first into `again` and a replay of it with --epochs 2; then a
    net half as wide in bfloat16 into `half`, and a replay of its config.json, with
    compile switched on there, given --no-compile, into `not-compiled`. In between,
    predict reads a digit with half/model.pt into predicted.csv."""
    flags = ["--data-dir", str(mnist_root), *SHORT, "--scheduler", "none"]
    # Half as wide: bfloat16 autocast is slow on CPUs, on a small net less so.
    half = [*flags, "--width", "0.5", "--amp", "on", "--output-dir", "half"]
    first = train_each(repository, [flags, half])[0]
    config = json.loads((repository / "half/config.json").read_text())
    config["flags"]["compile"] = True
    (repository / "compiled.json").write_text(json.dumps(config))
    Image.fromarray(sample_split()["test"][0][0]).save(repository / "digit.png")
    predict = ["predict", "--checkpoint", "half/model.pt", "--device", "cpu"]
    later = train_each(
        repository,
        [
            [*flags, "--seed", "3"],
            [*flags, "--epochs", "2", "--resume", "last"],
            [*predict, "--topk", "10", "--output", "predicted.csv", "digit.png"],
            ["--config", f"{first}/config.json", "--output-dir", "again"],
            ["--config", f"{first}/config.json", "--epochs", "2"],
            [
                "--config",
                "compiled.json",
                "--no-compile",
                "--output-dir",
                "not-compiled",
            ],
        ],
    )
    return [first, *later]


def train_each(root, runs):
    """The run folder of each train.main(argv) of `runs`, run one after another."""
    result = run_python(["-c", TRAIN_EACH, json.dumps(runs)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    folders = [
        line[len("run: ") :]
        for line in result.stdout.splitlines()
        if line.startswith("run: ")
    ]
    assert len(folders) == sum(argv[0] != "predict" for argv in runs), result.stdout
    return folders


def test_two_runs_in_a_row_get_two_complete_folders_sorted_by_time(repository, runs):
    first, second = runs[:2]
    assert RUN_LINE.fullmatch(f"run: {first}") and RUN_LINE.fullmatch(f"run: {second}")
    assert first < second
    for folder in (first, second):
        assert RUN_FILES <= {p.name for p in (repository / folder).iterdir()}
    assert len(read_history(repository / first / "metrics.jsonl")) == 1


def test_config_json_holds_resolved_flags_command_versions_and_git_state(
    repository, runs, mnist_root
):
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    config = json.loads((repository / runs[0] / "config.json").read_text())
    assert config["project"] == "mytrainer"
    assert config["template_version"] == __version__
    assert config["command"] == (
        f"python -m mytrainer.train --data-dir {mnist_root} --epochs 1 "
        "--epoch-length 3 --device cpu --scheduler none"
    )
    flags = config["flags"]
    # Defaults filled in: the schedule's learning rate and the monitor's mode.
    assert (flags["lr"], flags["monitor"], flags["monitor_mode"]) == (
        0.001,
        "accuracy",
        "max",
    )
    assert (flags["epochs"], flags["device"], flags["seed"]) == (1, "cpu", 0)
    assert "output_dir" not in flags and "config" not in flags
    assert config["versions"]["torch"] == torch.__version__
    assert config["versions"]["torchvision"] == torchvision.__version__.split("+")[0]
    assert config["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert config["git"] == {"commit": head, "dirty": False}


def test_replay_on_the_cpu_ends_with_bit_identical_weights(repository, runs):
    first, again = runs[0], runs[3]
    assert again == "again"
    original = torch.load(repository / first / "last.pt", weights_only=True)
    replayed = torch.load(repository / again / "last.pt", weights_only=True)
    assert original["state_dict"].keys() == replayed["state_dict"].keys()
    for name, tensor in original["state_dict"].items():
        assert torch.equal(tensor, replayed["state_dict"][name]), name
    second = torch.load(repository / runs[1] / "last.pt", weights_only=True)
    assert not torch.equal(  # another seed: other weights, so the check can fail
        second["state_dict"]["classifier.3.weight"],
        original["state_dict"]["classifier.3.weight"],
    )


def test_a_flag_given_with_config_wins_and_the_run_gets_a_new_folder(repository, runs):
    folder = runs[4]
    assert RUN_LINE.fullmatch(f"run: {folder}") and folder not in runs[:4]
    config = json.loads((repository / folder / "config.json").read_text())
    assert config["flags"]["epochs"] == 2
    assert config["flags"]["epoch_length"] == 3  # from the file
    assert config["command"] == (
        f"python -m mytrainer.train --config {runs[0]}/config.json --epochs 2"
    )


def weights(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_config_json_holds_the_precision_amp_chose_on_the_device(repository, runs):
    def amp(folder):
        return json.loads((repository / folder / "config.json").read_text())["flags"]

    # --amp auto is float32 on the CPU; --amp on is bfloat16 there.
    assert amp(runs[0])["amp"] == "off"
    assert amp("half")["amp"] == amp("not-compiled")["amp"] == "bfloat16"


def test_width_scales_net_and_model_pt_rebuilds_it_for_predict(repository, runs):
    full = weights(repository / runs[0] / "model.pt")
    half = weights(repository / "half/model.pt")
    for name in ("features.0.weight", "features.4.weight", "classifier.0.weight"):
        assert 2 * half[name].shape[0] == full[name].shape[0], name
    assert half["classifier.3.weight"].shape[0] == 10  # the classes, not scaled
    assert 3 * sum(t.numel() for t in half.values()) < sum(
        t.numel() for t in full.values()
    )
    assert torch.load(repository / "half/model.pt", weights_only=True)["width"] == 0.5

    # predict built the narrow net from model.pt alone: every class, probabilities
    # that sum to 1 (each rounded to 4 places).
    with open(repository / "predicted.csv", newline="") as file:
        [row] = list(csv.reader(file))[1:]
    assert row[0] == "digit.png"
    classes, probabilities = row[1::2], [float(p) for p in row[2::2]]
    assert len(set(classes)) == 10
    assert sum(probabilities) == pytest.approx(1, abs=1e-3)


def test_a_no_flag_switches_off_a_switch_the_replayed_config_turned_on(
    repository, runs
):
    config = json.loads((repository / "not-compiled/config.json").read_text())
    assert config["flags"]["compile"] is False
    assert config["flags"]["width"] == 0.5
    # The half run again, bit for bit: the width and precision came from the file.
    original, replayed = (
        weights(repository / folder / "last.pt") for folder in ("half", "not-compiled")
    )
    assert original.keys() == replayed.keys()
    for name, tensor in original.items():
        assert torch.equal(tensor, replayed[name]), name


def test_resume_last_continues_the_newest_run_with_a_checkpoint(repository, runs):
    first, second, resumed = runs[:3]
    assert resumed == second
    history = read_history(repository / second / "metrics.jsonl")
    assert [row["epoch"] for row in history] == [1, 2]
    made = {p.name for p in (repository / "runs").iterdir()}
    assert made == {folder.removeprefix("runs/") for folder in (first, second, runs[4])}


MAKE_FOLDERS = """
import sys
import threading
import time
from pathlib import Path

from mytrainer.run_folder import make_run_folder

start = time.time() + 0.5
made = []

def make():
    time.sleep(start - time.time())  # every thread at the same instant
    made.append(make_run_folder(Path("shared")).name)

threads = [threading.Thread(target=make) for _ in range(32)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(" ".join(made))
"""


def test_runs_starting_in_the_same_second_never_share_a_folder(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    result = run_python(["-c", MAKE_FOLDERS], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    names = result.stdout.split()
    assert len(names) == len(set(names)) == 32
    assert len({name[:15] for name in names}) <= 2  # the same second, or two
    # Made and left empty: removed when the process ended.
    assert list((root / "shared").iterdir()) == []


def test_two_runs_started_together_write_two_folders(tmp_path, mnist_root):
    root = committed(create(Options(name="mytrainer"), tmp_path))
    (root / "README.md").write_text("an uncommitted edit\n")
    command = [sys.executable, "-m", "mytrainer.train", "--data-dir", str(mnist_root)]
    started = [
        subprocess.Popen(
            [*command, *SHORT, "--epoch-length", "2"],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in started]
    assert [run.returncode for run in started] == [0, 0], outputs
    folders = {RUN_LINE.match(out.splitlines()[0])[1] for out, _ in outputs}
    assert len(folders) == 2
    for folder in folders:
        assert RUN_FILES <= {p.name for p in (root / folder).iterdir()}
        config = json.loads((root / folder / "config.json").read_text())
        assert config["git"]["dirty"] is True


BAD_CONFIGS = {
    "missing.json": (None, "missing.json: no such file"),
    "broken.json": ("{", "broken.json is not JSON (Expecting property name"),
    "unknown.json": (
        {
            "project": "mytrainer",
            "template_version": __version__,
            "flags": {"epocs": 2},
        },
        "unknown.json sets epocs: no such flag",
    ),
    "other.json": (
        {"project": "yourtrainer", "template_version": __version__, "flags": {}},
        "other.json is a run of yourtrainer, not mytrainer",
    ),
    "newer.json": (
        {"project": "mytrainer", "template_version": "99.0.0", "flags": {}},
        (
            "newer.json is a run of templates 99.0.0, newer than this project's "
            f"{__version__}: update the project first (scaffold update)"
        ),
    ),
}

EACH_CONFIG = """
import contextlib
import io
import json
import sys

from mytrainer.train import main

for name in json.loads(sys.argv[1]):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            main(["--config", name])
        except SystemExit as exit:
            print(json.dumps([name, exit.code, stderr.getvalue()]))
"""


def test_bad_config_files_are_one_line_each_and_leave_nothing(tmp_path):
    root = create(Options(name="mytrainer"), tmp_path)
    for name, (content, _) in BAD_CONFIGS.items():
        if content is not None:
            text = content if isinstance(content, str) else json.dumps(content)
            (root / name).write_text(text)
    result = run_python(["-c", EACH_CONFIG, json.dumps(list(BAD_CONFIGS))], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [name for name, _, _ in answers] == list(BAD_CONFIGS)
    for name, status, stderr in answers:
        assert status == 2, (name, stderr)
        first, hint = stderr.strip().splitlines()
        assert first.startswith(f"error: argument --config: {BAD_CONFIGS[name][1]}")
        assert hint == HELP_HINT
    assert not (root / "runs").exists()
