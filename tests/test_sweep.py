"""--sweep: python -m NAME.sweep against real Optuna and a sqlite study.

A small study on the MNIST sample (short epochs): 3 trials, then a second
invocation adds 2 (5 in the storage); a trial the pruner stops has fewer epochs
in its run folder; the closing line's command trains the best trial's score
again; bad sweep flags are one line each.
"""

from __future__ import annotations

import json
import re
import shlex
import statistics

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create

from .conftest import HELP_HINT, read_history, run_python

pytestmark = pytest.mark.slow  # trains, or runs a generated program

optuna = pytest.importorskip("optuna")

EPOCHS = 2
SHORT = ["--epochs", str(EPOCHS), "--epoch-length", "4", "--device", "cpu"]
BEST_LINE = re.compile(
    r"best: trial (\d+) of (\d+), (\d\.\d{4}) \((\S+)\); again: (.+)"
)

# Both invocations, then the best trial's command, in one process: each call's
# stdout and exit status, as JSON lines on the real stdout.
INVOCATIONS = """
import contextlib
import io
import json
import shlex
import sys

from mytrainer import sweep, train

def call(main, argv):
    out, err, status = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exit:
            status = exit.code
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "status": status}

answers = [call(sweep.main, argv) for argv in json.loads(sys.argv[1])]
last = answers[1]["stdout"].strip().splitlines()[-1]
command = shlex.split(last.split("; again: ", 1)[1])
answers.append(call(train.main, [*command[3:], "--output-dir", "again"]))
for answer in answers:
    print(json.dumps(answer))
"""


@pytest.fixture(scope="module")
def study(tmp_path_factory, mnist_root):
    root = create(Options(name="mytrainer", sweep=True), tmp_path_factory.mktemp("s"))
    flags = ["--data-dir", str(mnist_root), *SHORT]
    argv = [["--trials", "3", *flags], ["--trials", "2", *flags]]
    result = run_python(["-c", INVOCATIONS, json.dumps(argv)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    for answer in answers:
        assert answer["status"] == 0, answer["stderr"][-3000:]
    storage = f"sqlite:///{root / 'runs/sweep.db'}"
    return root, answers, optuna.load_study(study_name="mytrainer", storage=storage)


def test_a_second_invocation_continues_the_study(study):
    _, answers, stored = study
    assert len(stored.trials) == 5
    assert [t.number for t in stored.trials] == [0, 1, 2, 3, 4]
    first, second = (BEST_LINE.search(a["stdout"]) for a in answers[:2])
    assert (first[2], second[2]) == ("3", "5")
    # New draws, not the first invocation's again, of every flag of the search
    # space (with --model net, the width too).
    drawn = [tuple(sorted(t.params.items())) for t in stored.trials]
    assert len(set(drawn)) == 5
    assert all(
        t.params.keys() == {"lr", "weight_decay", "batch_size", "width"}
        for t in stored.trials
    )


def test_each_trial_is_a_run_folder_and_a_weak_one_stops_where_it_falls_behind(
    study,
):
    root, _, stored = study
    states = optuna.trial.TrialState
    pruned = [t for t in stored.trials if t.state == states.PRUNED]
    assert pruned, [t.intermediate_values for t in stored.trials]
    for trial in stored.trials:
        rows = read_history(root / trial.user_attrs["run"] / "metrics.jsonl")
        reported = {row["epoch"]: row["accuracy"] for row in rows}
        assert trial.intermediate_values == reported
        if trial.state == states.PRUNED:
            # Stopped at the first epoch where it scored below the median of the
            # trials completed before it (Optuna's MedianPruner), not later.
            completed = [
                t for t in stored.trials[: trial.number] if t.state == states.COMPLETE
            ]
            below = [
                epoch
                for epoch, score in sorted(reported.items())
                if len(completed) >= 2
                and score
                < statistics.median(t.intermediate_values[epoch] for t in completed)
            ]
            assert below and below[0] == max(reported), (reported, below)
        else:
            assert trial.state == states.COMPLETE and len(rows) == EPOCHS
            assert trial.value == max(reported.values())
            config = json.loads(
                (root / trial.user_attrs["run"] / "config.json").read_text()
            )
            for name, value in trial.params.items():
                assert config["flags"][name] == value
            # The drawn width is the net's: model.pt holds it for predict.
            saved = torch.load(
                root / trial.user_attrs["run"] / "model.pt", weights_only=True
            )
            assert saved["width"] == trial.params["width"]
            hidden = saved["state_dict"]["classifier.0.weight"].shape[0]
            assert hidden == round(256 * trial.params["width"])


def test_the_best_trials_command_trains_its_score_again(study):
    root, answers, stored = study
    number, _, score, run, command = BEST_LINE.search(answers[1]["stdout"]).groups()
    best = stored.best_trial
    assert (int(number), run, float(score)) == (
        best.number,
        best.user_attrs["run"],
        round(best.value, 4),
    )
    assert shlex.split(command)[:3] == ["python", "-m", "mytrainer.train"]
    again = read_history(root / "again/metrics.jsonl")
    assert max(row["accuracy"] for row in again) == best.value


BAD = {
    "--trials 0": (
        ["--trials", "0"],
        "argument --trials: expected a whole number >= 1, got 0",
    ),
    "not sqlite": (
        ["--trials", "1", "--storage", "postgresql://db/x"],
        (
            "argument --storage: expected sqlite:///FILE.db (a study is kept in "
            "sqlite), got postgresql://db/x"
        ),
    ),
    "cannot open": (
        ["--trials", "1", "--storage", "sqlite:///no/such/folder/x.db"],
        "argument --storage: sqlite:///no/such/folder/x.db: (sqlite3.Operational",
    ),
    "a drawn flag": (
        ["--trials", "1", "--lr", "0.1"],
        "argument --lr: each trial draws it (SEARCH_SPACE in sweep.py); leave it out",
    ),
    "width with a torchvision model": (
        ["--trials", "1", "--model", "resnet18", "--width", "2"],
        "argument --width: scales net; a torchvision --model has widths of its own",
    ),
    # torchrun tells each process its place in these variables.
    "under torchrun": (
        ["--trials", "1", "WORLD_SIZE=2"],
        (
            "the sweep runs its trials one after another in one process: start it "
            "with python, not torchrun"
        ),
    ),
}

# Each argv in one process; a last word NAME=VALUE sets an environment variable.
EACH = """
import contextlib
import io
import json
import os
import sys

from mytrainer.sweep import main

for argv in json.loads(sys.argv[1]):
    if "=" in argv[-1] and not argv[-1].startswith("-"):
        name, value = argv.pop().split("=")
        os.environ[name] = value
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            main(argv)
        except SystemExit as exit:
            print(json.dumps([exit.code, stderr.getvalue()]))
"""


def test_bad_sweep_flags_and_torchrun_are_one_line_each(tmp_path):
    root = create(Options(name="mytrainer", sweep=True), tmp_path)
    argvs = [argv for argv, _ in BAD.values()]
    result = run_python(["-c", EACH, json.dumps(argvs)], cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == len(BAD)
    for (case, (_, expected)), (status, stderr) in zip(BAD.items(), answers):
        first, hint = stderr.strip().splitlines()
        assert status == 2 and first.startswith(f"error: {expected}"), case
        assert hint == HELP_HINT
    assert not any((root / "runs").glob("2*"))  # no trial started
