"""Every bad flag and bad input of a generated train script: one line
that says what is wrong, and nothing written.

The project with every metric and feature runs each command line of CASES. Each
must end with a non-zero status and one `error:` line on stderr (for a flag, with
a second line pointing at --help, and no usage block), no traceback, and
leave the project folder (where every --output-dir below points) and the data
folder as they were, byte for byte. All but the torchrun case share one process
that calls main(argv) for each, so that torch is imported once; downloads there
go to a proxy that refuses them, so a missing dataset fails fast and offline.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create
from scaffold.registry import FEATURES, task_metrics

from .conftest import CHECKPOINT_KEYS, one_error_line, run_python

pytestmark = pytest.mark.slow  # trains, or runs a generated program

EVERY_FILE_FEATURE = {name: True for name, spec in FEATURES.items() if spec.render_time}
NO_NETWORK = {
    name: "http://127.0.0.1:9"  # the discard port: every connection is refused
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
} | {"no_proxy": "", "NO_PROXY": ""}


class Case(NamedTuple):
    """A bad command line and the error it must end with (`error: ...<error>...`):
    with `status` 2 an error of the flags, with 1 an error of the run."""

    id: str
    flags: tuple[str, ...]
    status: int
    error: str
    env: tuple[tuple[str, str], ...] = ()  # (name, value) pairs
    torchrun: bool = False


def usage(id, *flags, error):
    return Case(id, flags, 2, error)


def run_error(id, *flags, error):
    return Case(id, flags, 1, error)


MORE_THAN_ONE = "expected a whole number >= 1, got"
CASES = [
    usage("epochs-0", "--epochs", "0", error=f"argument --epochs: {MORE_THAN_ONE} 0"),
    usage("epochs--3", "--epochs=-3", error=f"argument --epochs: {MORE_THAN_ONE} -3"),
    usage("epochs-abc", "--epochs", "abc", error="invalid positive_int value: 'abc'"),
    usage("epoch-length--2", "--epoch-length=-2", error=f"{MORE_THAN_ONE} -2"),
    usage("batch-size-0", "--batch-size", "0", error=f"{MORE_THAN_ONE} 0"),
    usage("batch-size--5", "--batch-size=-5", error=f"{MORE_THAN_ONE} -5"),
    usage("eval-batch-size-0", "--eval-batch-size", "0", error=f"{MORE_THAN_ONE} 0"),
    usage("log-interval-0", "--log-interval", "0", error=f"{MORE_THAN_ONE} 0"),
    usage("accumulate-0", "--accumulate", "0", error=f"{MORE_THAN_ONE} 0"),
    usage("keep-last-0", "--keep-last", "0", error=f"{MORE_THAN_ONE} 0"),
    usage("patience-0", "--patience", "0", error=f"{MORE_THAN_ONE} 0"),
    usage(
        "lr-nan", "--lr", "nan", error="argument --lr: expected a number > 0, got nan"
    ),
    usage("lr--1", "--lr=-1", error="argument --lr: expected a number > 0, got -1"),
    usage("lr-gamma-0", "--lr-gamma", "0", error="expected a number > 0, got 0"),
    usage("weight-decay-inf", "--weight-decay", "inf", error="number >= 0, got inf"),
    usage("clip--1", "--clip-grad-norm=-1", error="expected a number > 0, got -1"),
    usage(
        "checkpoint-every--1",
        "--checkpoint-every=-1",
        error="argument --checkpoint-every: expected a whole number >= 0, got -1",
    ),
    usage("seed--1", "--seed=-1", error="expected a whole number from 0 to 2**63 - 1"),
    usage("seed-2**64", "--seed", str(2**64), error="from 0 to 2**63 - 1, got"),
    usage(
        "device-gpu0",
        *("--device", "gpu0"),
        error="argument --device: expected a torch device such as cpu, cuda or "
        "cuda:1, got gpu0",
    ),
    usage(
        "device-mps",
        *("--device", "mps"),
        error="argument --device: mps: this machine or this build of torch has no "
        "such device",
    ),
    usage("dataset-unknown", "--dataset", "cifar10", error="invalid choice: 'cifar10'"),
    usage("monitor-unknown", "--monitor", "auc", error="invalid choice: 'auc'"),
    usage(
        "amp-maybe", "--amp", "maybe", error="argument --amp: invalid choice: 'maybe'"
    ),
    usage("loader-unknown", "--loader", "ffcv", error="invalid choice: 'ffcv'"),
    usage("unknown-flag", "--epochz", "3", error="unrecognized arguments: --epochz 3"),
    usage("ambiguous-flag", "--epoch", "3", error="ambiguous option: --epoch could"),
    usage(
        "output-dir-a-file",
        *("--output-dir", "a-file"),
        error="argument --output-dir: a-file is a file, not a folder",
    ),
    usage(
        "output-dir-under-a-file",
        *("--output-dir", "a-file/runs"),
        error="argument --output-dir: a-file is a file, not a folder",
    ),
    usage(
        "data-dir-a-file",
        *("--data-dir", "a-file"),
        error="argument --data-dir: a-file is a file, not a folder",
    ),
    usage(
        "output-dir-of-an-earlier-run",
        *("--output-dir", "earlier"),
        error="argument --output-dir: earlier holds an earlier run's results; "
        "continue that run with --resume last, or choose another folder",
    ),
    usage(
        "output-dir-of-another-run-than-resumed",
        *("--output-dir", "earlier", "--resume", "foreign/checkpoint-00000003.pt"),
        error="argument --output-dir: earlier holds an earlier run's results",
    ),
    Case(
        "batch-size-odd-for-2-processes",
        ("--batch-size", "5"),
        2,
        "argument --batch-size: expected a multiple of the 2 processes, which share "
        "each batch, got 5",
        env=(("WORLD_SIZE", "2"), ("RANK", "0")),
    ),
    Case(
        "batch-size-odd-under-torchrun",
        ("--batch-size", "5"),
        2,
        "argument --batch-size: expected a multiple of the 2 processes, which share "
        "each batch, got 5",
        torchrun=True,
    ),
    run_error(
        "data-dir-missing",
        *("--data-dir", "missing/data"),
        error="mnist is not in missing/data/MNIST/raw (as readable IDX files, e.g. "
        "train-images-idx3-ubyte) and downloading it failed: ",
    ),
    run_error(
        "data-dir-empty",
        *("--data-dir", "empty"),
        error="mnist is not in empty/MNIST/raw",
    ),
    run_error(
        "dataset-not-downloaded",
        *("--data-dir", "empty", "--dataset", "fashion-mnist"),
        error="fashion-mnist is not in empty/FashionMNIST/raw",
    ),
    usage(
        "accumulate-beyond-the-run",
        *("--accumulate", "3"),
        error="argument --accumulate: 3 is more than the run's 2 iterations: the "
        "weights would never change",
    ),
    run_error(
        "resume-a-missing-file",
        *("--resume", "nowhere.pt"),
        error="nowhere.pt does not exist",
    ),
    run_error(
        "resume-last-without-checkpoints",
        *("--resume", "last"),
        error="no readable checkpoint in out/checkpoints",
    ),
    run_error(
        "resume-last-of-an-earlier-run-without-checkpoints",
        *("--output-dir", "earlier", "--resume", "last"),
        error="no readable checkpoint in earlier/checkpoints",
    ),
    run_error(
        "resume-another-models-checkpoint",
        *("--resume", "foreign/checkpoint-00000003.pt"),
        error="foreign/checkpoint-00000003.pt does not fit this run's model: ",
    ),
    run_error(
        "resume-a-file-that-is-no-checkpoint",
        *("--resume", "a-file"),
        error="a-file is not a readable checkpoint (truncated or corrupt?): ",
    ),
]
# A command line for each pair of flags that the config refuses (its CONFLICTS),
# keyed by the pair: test_every_refused_pair_of_flags_has_a_case checks that the
# keys are exactly the generated config's pairs, so that a refusal dropped from the
# config, or added to it without a case here, fails a test.
REFUSED_PAIRS = {
    ("--backend", "--device"): usage(
        "backend-nccl-on-cpu",
        *("--backend", "nccl", "--device", "cpu"),
        error="argument --backend: nccl runs on CUDA devices; use gloo",
    ),
    ("--pretrained", "--model"): usage(
        "pretrained-with-net",
        *("--model", "net", "--pretrained"),
        error="argument --pretrained: takes a torchvision --model, not net",
    ),
    ("--freeze-backbone", "--model"): usage(
        "freeze-backbone-with-net",
        *("--model", "net", "--freeze-backbone"),
        error="argument --freeze-backbone: takes a torchvision --model, not net",
    ),
    ("--width", "--model"): usage(
        "width-with-a-torchvision-model",
        *("--model", "resnet18", "--width", "2"),
        error="argument --width: scales net; a torchvision --model has widths of its "
        "own",
    ),
    ("--weights", "--pretrained"): usage(
        "weights-with-pretrained",
        *("--model", "resnet18", "--pretrained", "--weights", "a-file"),
        error="argument --weights: not with --pretrained; choose one",
    ),
}
CASES += REFUSED_PAIRS.values()
if torch.cuda.is_available():
    CASES.append(
        usage(
            "device-cuda-beyond-the-count",
            *("--device", f"cuda:{torch.cuda.device_count()}"),
            error=f"this machine has {torch.cuda.device_count()} CUDA device(s)",
        )
    )
else:
    CASES.append(
        usage(
            "device-cuda-without-a-gpu",
            *("--device", "cuda"),
            error="argument --device: cuda: this machine has no CUDA device",
        )
    )
if not torch.distributed.is_mpi_available():
    CASES.append(
        usage("backend-mpi-not-built", "--backend", "mpi", error="choice: 'mpi'")
    )
if os.geteuid() != 0:  # root may write anywhere
    CASES.append(
        usage(
            "output-dir-not-writable",
            *("--output-dir", "locked/runs"),
            error="argument --output-dir: locked is not writable",
        )
    )


def command_line(case: Case, data_root: Path) -> list[str]:
    """A short run's flags, then the case's (argparse takes a flag's last value)."""
    base = ["--data-dir", str(data_root), "--output-dir", "out", "--device", "cpu"]
    return [*base, "--epoch-length", "2", *case.flags]


# Calls main(argv) for each case as `python -m mytrainer.train` would run it: the
# same program name, and a SystemExit("message") printed to stderr with status 1.
# Reports each case's status, stdout and stderr, and the paths under the watched
# folders that it created, changed or removed.
RUN_CASES = r"""
import contextlib
import hashlib
import io
import json
import os
import sys
import traceback
from pathlib import Path

import mytrainer.train
from mytrainer.config import CONFLICTS
from mytrainer.train import main

cases, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv[0] = mytrainer.train.__file__


digests = {}  # a file is read again only when its size or time changed


def digest(path):
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
    if key not in digests:
        digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests[key]


def snapshot():
    tree = {}
    for root in watched:
        for folder, folders, files in os.walk(root):
            folders[:] = [name for name in folders if name != "__pycache__"]
            for name in folders + files:
                path = Path(folder, name)
                tree[str(path)] = digest(path) if path.is_file() else "<folder>"
    return tree


results = {}
for case in cases:
    before = snapshot()
    os.environ.update(case["env"])
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main(case["argv"])
            status = 0
        except SystemExit as exit:
            status = exit.code
            if isinstance(status, str):
                print(status, file=sys.stderr)
                status = 1
        except BaseException:
            traceback.print_exc()
            status = 1
    for name in case["env"]:
        del os.environ[name]
    after = snapshot()
    paths = sorted(before.keys() | after.keys())
    changed = [path for path in paths if before.get(path) != after.get(path)]
    results[case["id"]] = {
        "status": status,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "changed": changed,
    }
refused = [[conflict.flag, conflict.other] for conflict in CONFLICTS]
print(json.dumps({"cases": results, "refused": refused}))
"""


def snapshot(*roots: Path) -> dict[str, str]:
    """Every path under roots (no __pycache__): a digest of its bytes, or a folder."""
    tree = {}
    for root in roots:
        for folder, folders, files in os.walk(root):
            folders[:] = [name for name in folders if name != "__pycache__"]
            for name in folders + files:
                path = Path(folder, name)
                data = path.read_bytes() if path.is_file() else b"<folder>"
                tree[str(path)] = hashlib.sha256(data).hexdigest()
    return tree


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The project with every metric and feature, beside the inputs the cases name:
    a file, an empty folder, an earlier run's folder, another model's checkpoint."""
    options = Options(
        name="mytrainer", metrics=task_metrics("classification"), **EVERY_FILE_FEATURE
    )
    root = create(options, tmp_path_factory.mktemp("bad-input"))
    (root / "a-file").write_text("not a folder, not a checkpoint\n")
    (root / "empty").mkdir()
    (root / "earlier").mkdir()
    (root / "earlier/metrics.jsonl").write_text('{"epoch": 1, "accuracy": 0.5}\n')
    (root / "foreign").mkdir()
    state = {key: {} for key in CHECKPOINT_KEYS}
    state["model"] = torch.nn.Linear(2, 2).state_dict()
    torch.save(state, root / "foreign/checkpoint-00000003.pt")
    (root / "locked").mkdir(mode=0o555)
    return root


@pytest.fixture(scope="module")
def results(project, mnist_root):
    """What each case but the torchrun one did, all run in one process, and the
    pairs of flags that the project's config refuses."""
    cases = [
        {"id": case.id, "argv": command_line(case, mnist_root), "env": dict(case.env)}
        for case in CASES
        if not case.torchrun
    ]
    watched = [str(project), str(mnist_root)]
    result = run_python(
        ["-c", RUN_CASES, json.dumps(cases), json.dumps(watched)],
        cwd=project,
        **NO_NETWORK,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def torchrun_case(case, project, data_root, log_dir):
    """The case under torchrun with 2 CPU processes: (status, [stderr of each])."""
    before = snapshot(project, data_root)
    result = run_python(
        [
            *("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"),
            *("--log-dir", str(log_dir), "--redirects", "3"),
            *("-m", "mytrainer.train", *command_line(case, data_root)),
        ],
        cwd=project,
        OMP_NUM_THREADS="1",
    )
    assert snapshot(project, data_root) == before
    logs = [sorted(log_dir.glob(f"*/attempt_0/{rank}/stderr.log")) for rank in range(2)]
    assert all(len(found) == 1 for found in logs), logs
    return result.returncode, [found[0].read_text() for found in logs]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_ends_the_run_with_one_error_line_and_writes_nothing(
    case, request, project, mnist_root, tmp_path
):
    if case.torchrun:
        status, (stderr, quiet) = torchrun_case(case, project, mnist_root, tmp_path)
        assert status != 0
        assert quiet == "", "a process other than the first printed"
    else:  # (the torchrun case alone need not start the shared process)
        run = request.getfixturevalue("results")["cases"][case.id]
        status, stderr = run["status"], run["stderr"]
        assert status == case.status, stderr
        assert run["changed"] == [], "the run wrote or removed files"
    last = one_error_line(stderr, case.status)
    assert case.error in last, last


def test_every_refused_pair_of_flags_has_a_case(results):
    refused = [tuple(pair) for pair in results["refused"]]
    assert len(refused) == len(set(refused)), "a pair is refused twice"
    assert set(refused) == set(REFUSED_PAIRS)
