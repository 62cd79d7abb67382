"""Image-folder projects: `scaffold new NAME --data imagefolder` trained
on real digits saved the messy ways real folders hold them.

One project (with --checkpoint) trains on scripts/datasets.py's digits folder:
from its train/ and val/ folders, from train/ alone (a held-out --val-split), and
from its CSV files, 5 epochs each, to 95% validation accuracy; predict then
classifies val/ as the run scored it. Around those runs the data folder's listing
(every path, size and modification time) must stay as it was. Then: --pretrained
reads a state_dict planted where torchvision's weights API looks, --weights and
--freeze-backbone load and keep what they should, every bad input ends in one
`error:` line, the DataLoader path (--cache-limit 0) trains, the decoded-image
cache is reused until a file changes, and a run killed mid-epoch resumes to the
very weights of an uninterrupted one.

Runs that differ only in flags share one process through main(argv) (test_run_faults'
RUN_EACH), so that torch is imported once for them. Every run is pinned to --device
cpu, keeps its decoded images in a temporary --cache-dir and its torchvision
weights in a temporary TORCH_HOME, and reaches no network: nothing touches the
home folder. `pytest -s` shows the accuracies and timings measured.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

import pytest
import torch

from scaffold.options import Options
from scaffold.project import create
from scripts.datasets import digits_folder

from .conftest import one_error_line, read_history, run_python
from .test_distributed import torchrun
from .test_run_faults import NO_NETWORK, RUN_EACH
from .test_run_resume import RESUMABLE, assert_same_training, kill_when_written

pytestmark = pytest.mark.slow  # trains, or runs a generated program

PACKAGE = "imgtrainer"
EPOCHS = ["--epochs", "5", "--device", "cpu"]
# The digits folder's training files that are no image a decoder can read.
UNREADABLE = ("train/2/truncated.png", "train/8/broken.png")
DIGITS = [str(digit) for digit in range(10)]


class Env(NamedTuple):
    """The project and where its runs keep what they keep outside --output-dir."""

    root: Path  # the generated project; runs write under root/"out"
    cache_dir: Path  # --cache-dir of every run: decoded images, shared
    torch_home: Path  # $TORCH_HOME: holds no weights

    def variables(self) -> dict[str, str]:
        """The environment of a run: no home folder, no network."""
        return {
            "XDG_CACHE_HOME": str(self.cache_dir.parent / "xdg"),
            "TORCH_HOME": str(self.torch_home),
            **NO_NETWORK,
        }

    def argv(self, output_dir: str, *flags: str) -> list[str]:
        """main(argv) of a run into out/output_dir."""
        out = self.root / "out" / output_dir
        return ["--output-dir", str(out), "--cache-dir", str(self.cache_dir), *flags]

    def out(self, output_dir: str) -> Path:
        return self.root / "out" / output_dir


def run_each(env: Env, runs: dict[str, list[str]], **variables) -> dict[str, dict]:
    """{id: {status, stdout, stderr}} of main(argv) for each {id: argv}, in order,
    in one process."""
    steps = [{"id": id, "package": PACKAGE, "argv": argv} for id, argv in runs.items()]
    result = run_python(
        ["-c", RUN_EACH, json.dumps(steps)],
        cwd=env.root,
        **{**env.variables(), **variables},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def succeeded(run) -> None:
    assert run["status"] == 0, run["stderr"][-3000:]
    assert "Traceback" not in run["stderr"], run["stderr"][-3000:]


def final_accuracy(run_dir: Path) -> float:
    return read_history(run_dir / "metrics.jsonl")[-1]["accuracy"]


def listing(root: Path) -> dict[str, tuple[int | None, int]]:
    """{path: (size, or None for a folder; modification time in ns)} of root and
    everything under it, hidden paths too. A file written, replaced or removed,
    or a folder whose entries changed, shows here."""
    found = {}
    for path in [root, *root.rglob("*")]:
        info = path.lstat()
        size = None if path.is_dir() else info.st_size
        found[path.relative_to(root).as_posix()] = (size, info.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def digits_root(tmp_path_factory) -> Path:
    """4,000/1,000 real digits as train/<digit>/ and val/<digit>/ files, with
    train.csv and val.csv: a tenth saved oddly, beside junk (scripts/datasets.py)."""
    return digits_folder(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    folder = tmp_path_factory.mktemp("imagefolder")
    root = create(Options(name=PACKAGE, data="imagefolder", checkpoint=True), folder)
    (root / "out").mkdir()
    return Env(root, folder / "cache", folder / "torch-home")


# ---------------------------------------------------------------- end to end


class EndToEnd(NamedTuple):
    runs: dict[str, dict]  # id: {status, stdout, stderr} of each training run
    predicted: object  # CompletedProcess of predict on val/
    before: dict  # listing(digits_root) before the runs
    after: dict  # and after them and predict


@pytest.fixture(scope="module")
def end_to_end(env, digits_root, tmp_path_factory) -> EndToEnd:
    """Three 5-epoch runs on the digits, their data named three ways, and predict
    on val/ with the first run's model."""
    train_only = tmp_path_factory.mktemp("train-only")
    shutil.copytree(digits_root / "train", train_only / "train")
    before = listing(digits_root)
    runs = {
        "folders": env.argv("folders", "--data-dir", str(digits_root), *EPOCHS),
        "split": env.argv("split", "--data-dir", str(train_only), *EPOCHS),
        "csv": env.argv(
            "csv",
            *("--train-csv", str(digits_root / "train.csv")),
            *("--val-csv", str(digits_root / "val.csv")),
            *EPOCHS,
        ),
    }
    start = time.perf_counter()
    results = run_each(env, runs)
    seconds = {"3 training runs": time.perf_counter() - start}
    start = time.perf_counter()
    predicted = run_python(
        [
            *("-m", f"{PACKAGE}.predict", str(digits_root / "val")),
            *("--checkpoint", str(env.out("folders") / "model.pt")),
            *("--output", str(env.out("predicted.csv")), "--device", "cpu"),
        ],
        cwd=env.root,
        **env.variables(),
    )
    seconds["predict"] = time.perf_counter() - start
    after = listing(digits_root)
    for name, value in seconds.items():
        print(f"\nimagefolder end to end: {name} took {value:.1f} s")
    return EndToEnd(results, predicted, before, after)


@pytest.mark.parametrize("run", ["folders", "split", "csv"])
def test_each_way_of_naming_the_data_trains_5_epochs_to_95_percent(
    end_to_end, env, run
):
    succeeded(end_to_end.runs[run])
    history = read_history(env.out(run) / "metrics.jsonl")
    accuracies = [row["accuracy"] for row in history]
    seconds = sum(row["seconds"] for row in history)
    print(f"\n{run}: validation accuracy by epoch {accuracies} ({seconds:.1f} s)")
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert accuracies[-1] >= 0.95, f"{run}: accuracy by epoch {accuracies}"


@pytest.mark.parametrize("run", ["folders", "split", "csv"])
def test_every_run_ends_by_writing_model_pt_and_classes_json(end_to_end, env, run):
    succeeded(end_to_end.runs[run])
    saved = torch.load(env.out(run) / "model.pt", weights_only=True)
    card = {"model", "classes", "preprocessing", "width"}
    assert set(saved) == {*card, "epoch", "state_dict"}
    assert (saved["model"], saved["classes"], saved["width"]) == ("net", DIGITS, 1.0)
    # Some digits are RGB files: the images are read as RGB, at their 28 pixels.
    preprocessing = saved["preprocessing"]
    assert (preprocessing["channels"], preprocessing["image_size"]) == (3, 28)
    assert len(preprocessing["mean"]) == len(preprocessing["std"]) == 3
    assert json.loads((env.out(run) / "classes.json").read_text()) == DIGITS
    assert f"model: {env.out(run) / 'model.pt'}" in end_to_end.runs[run]["stdout"]


def test_without_a_val_folder_a_tenth_of_each_class_is_held_out(end_to_end):
    run = end_to_end.runs["split"]
    succeeded(run)
    # 4,002 files: the 4,000 digits and two that cannot be read (UNREADABLE).
    [line] = [
        line for line in run["stdout"].splitlines() if " validation images " in line
    ]
    words = line.split()
    training, validation = int(words[1]), int(words[4])
    assert training + validation == 4002, line
    # A tenth of each class, rounded: within 5 of a tenth of all 4,002.
    assert abs(validation - 400) <= 5, line


def skipped(stderr: str) -> tuple[list[str], str]:
    """(the files named in `warning: skipped FILE: cause` lines, the last line)."""
    *warnings, count = stderr.splitlines()
    assert all(line.startswith("warning: skipped ") for line in warnings), stderr
    named = [line.removeprefix("warning: skipped ").split(": ")[0] for line in warnings]
    return named, count


def test_the_runs_name_each_unreadable_image_once_and_count_them(
    end_to_end, digits_root
):
    succeeded(end_to_end.runs["folders"])
    named, count = skipped(end_to_end.runs["folders"]["stderr"])
    assert named == [str(digits_root / name) for name in UNREADABLE]
    assert count == "warning: 2 of 4002 images could not be read"
    # train.csv names broken.png but not truncated.png.
    named, count = skipped(end_to_end.runs["csv"]["stderr"])
    assert named == [str(digits_root / UNREADABLE[1])]
    assert count == "warning: 1 of 4001 images could not be read"


def test_predict_agrees_with_the_folder_labels_at_the_runs_accuracy(
    end_to_end, env, digits_root
):
    predicted = end_to_end.predicted
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert predicted.stderr == ""  # val/ holds no unreadable image
    rows = [line.split("\t") for line in predicted.stdout.splitlines()]
    images = sorted(p for p in (digits_root / "val").rglob("*") if p.is_file())
    assert sorted(Path(row[0]) for row in rows) == images
    assert all(len(row) == 3 and 0 <= float(row[2]) <= 1 for row in rows)
    agreed = sum(Path(path).parent.name == label for path, label, _ in rows) / len(rows)
    trained = final_accuracy(env.out("folders"))
    print(f"\npredict on val/: {agreed:.4f} agree; the run's accuracy {trained:.4f}")
    assert abs(agreed - trained) <= 0.01, (agreed, trained)


def test_predict_writes_the_lines_it_prints_to_the_output_csv(end_to_end, env):
    with open(env.out("predicted.csv"), newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header == ["path", "class", "probability"]
    assert rows == [
        line.split("\t") for line in end_to_end.predicted.stdout.splitlines()
    ]


def test_predict_topk_adds_the_next_guesses_in_falling_probability(
    end_to_end, env, digits_root
):
    some = sorted((digits_root / "val" / "3").iterdir())[:5]
    result = run_python(
        [
            *("-m", f"{PACKAGE}.predict", *map(str, some)),
            *("--checkpoint", str(env.out("folders") / "model.pt")),
            *("--topk", "3", "--device", "cpu"),
        ],
        cwd=env.root,
        **env.variables(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = {
        row[0]: row[1:]
        for row in (
            line.split("\t") for line in end_to_end.predicted.stdout.splitlines()
        )
    }
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == [str(path) for path in some]
    for path, *guesses in rows:
        classes, probabilities = guesses[0::2], [float(p) for p in guesses[1::2]]
        assert len(classes) == 3 and len(set(classes)) == 3
        assert probabilities == sorted(probabilities, reverse=True)
        assert sum(probabilities) <= 1 + 1e-3
        assert guesses[:2] == best[path]  # the first guess is --topk 1's line


def test_nothing_is_written_into_the_data_folder(end_to_end):
    assert len(end_to_end.before) > 5000
    assert end_to_end.after == end_to_end.before


# ---------------------------------------------------------------- pretrained


def published_file() -> str:
    """The file name torchvision's weights API keeps resnet18's weights under."""
    import torchvision

    weights = torchvision.models.get_model_weights("resnet18").DEFAULT
    return os.path.basename(urlparse(weights.url).path)


# A run of 2 steps on 32-pixel images: what a resnet18 does in a second.
SMALL = [*("--image-size", "32", "--epochs", "1"), *("--epoch-length", "2")]
SMALL += ["--device", "cpu"]


class Pretrained(NamedTuple):
    planted: dict  # the state_dict planted as resnet18's published weights
    runs: dict[str, dict]
    net_weights: dict  # the state_dict the net runs started from


@pytest.fixture(scope="module")
def pretrained(env, end_to_end, digits_root, tmp_path_factory) -> Pretrained:
    """resnet18 weights planted in a TORCH_HOME of their own, read by --pretrained
    and by --weights with a frozen backbone; and a net started from the folders
    run's model.pt and from its bare state_dict."""
    import torchvision

    torch.manual_seed(0)
    network = torchvision.models.resnet18()
    with torch.no_grad():
        network.conv1.weight.fill_(0.01)  # recognizable: no initialization gives it
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    planted = network.state_dict()
    torch_home = tmp_path_factory.mktemp("torch-home-planted")
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(planted, checkpoints / published_file())
    torch.save(planted, torch_home / "planted.pth")

    model_pt = env.out("folders") / "model.pt"
    net_weights = torch.load(model_pt, weights_only=True)["state_dict"]
    torch.save(net_weights, torch_home / "net-state-dict.pt")
    data = ["--data-dir", str(digits_root)]
    one_step = ["--epochs", "1", "--epoch-length", "1", "--device", "cpu"]
    resnet = ["--model", "resnet18", "--freeze-backbone", "--checkpoint-every", "1"]
    runs = {
        "pretrained": env.argv("pretrained", *data, *resnet, "--pretrained", *SMALL),
        "resnet-weights": env.argv(
            "resnet-weights",
            *(*data, *resnet, "--weights", str(torch_home / "planted.pth"), *SMALL),
        ),
        "net-model-pt": env.argv(
            "net-model-pt", *data, "--weights", str(model_pt), *one_step
        ),
        "net-state-dict": env.argv(
            "net-state-dict",
            *data,
            *("--weights", str(torch_home / "net-state-dict.pt")),
            *one_step,
        ),
    }
    start = time.perf_counter()
    results = run_each(env, runs, TORCH_HOME=str(torch_home))
    print(f"\npretrained and --weights runs: {time.perf_counter() - start:.1f} s")
    return Pretrained(planted, results, net_weights)


def assert_only_the_head_changed(state_dict, planted):
    """Every tensor of the saved Backbone but its head's is the planted one."""
    assert set(state_dict) == {f"network.{key}" for key in planted}
    for key, tensor in planted.items():
        if not key.startswith("fc."):
            assert torch.equal(state_dict[f"network.{key}"], tensor), key
    assert state_dict["network.fc.weight"].shape == (10, 512)


@pytest.mark.parametrize("run", ["pretrained", "resnet-weights"])
def test_a_frozen_backbone_keeps_the_planted_weights_and_trains_only_the_head(
    pretrained, env, run
):
    succeeded(pretrained.runs[run])
    saved = torch.load(env.out(run) / "model.pt", weights_only=True)
    assert saved["model"] == "resnet18"
    state_dict = saved["state_dict"]
    assert torch.equal(
        state_dict["network.conv1.weight"], torch.full((64, 3, 7, 7), 0.01)
    )
    # Every weight and every BatchNorm statistic but the head's: the planted ones.
    assert_only_the_head_changed(state_dict, pretrained.planted)
    # ...and the head did train: it moved between the two steps.
    first = torch.load(
        env.out(run) / "checkpoints/checkpoint-00000001.pt", weights_only=True
    )["model"]
    assert_only_the_head_changed(first, pretrained.planted)
    for key in ("network.fc.weight", "network.fc.bias"):
        assert not torch.equal(first[key], state_dict[key]), key


def test_pretrained_weights_bring_their_normalization(pretrained, env):
    saved = torch.load(env.out("pretrained") / "model.pt", weights_only=True)
    preprocessing = saved["preprocessing"]
    assert preprocessing["mean"] == pytest.approx((0.485, 0.456, 0.406))
    assert preprocessing["std"] == pytest.approx((0.229, 0.224, 0.225))
    assert (preprocessing["channels"], preprocessing["image_size"]) == (3, 32)
    # The published resize of 256 for a crop of 224, scaled to a crop of 32.
    assert preprocessing["resize_size"] == 37


@pytest.mark.parametrize("run", ["net-model-pt", "net-state-dict"])
def test_weights_start_a_net_from_a_state_dict_file(pretrained, env, run):
    succeeded(pretrained.runs[run])
    trained = torch.load(env.out(run) / "model.pt", weights_only=True)["state_dict"]
    start = pretrained.net_weights
    assert set(trained) == set(start)
    # One AdamW step of onecycle's first rate (0.01 / 25) moves no weight further.
    for name in ("features.0.weight", "classifier.0.weight", "classifier.3.weight"):
        moved = (trained[name] - start[name]).abs().max().item()
        assert moved <= 0.0005, (name, moved)
        assert not torch.equal(trained[name], start[name]), name


# ---------------------------------------------------------------- bad input


class Case(NamedTuple):
    """A bad command line in the folder `data` (see bad_data) and the error it
    must end with (`error: ...`): with `status` 2 an error of the flags, with 1
    an error of the run.
    `{data}`, `{hub}` in `error` stand for the data folder and
    $TORCH_HOME/hub."""

    id: str
    flags: tuple[str, ...]
    status: int
    error: str
    data: str = "good"


CASES = [
    Case(
        "no-train-folder",
        (),
        1,
        "{data} has no train folder: put the training images in {data}/train/<class>/",
        data="val-only",
    ),
    Case(
        "missing-data-dir",
        (),
        1,
        "{data} has no train folder",
        data="nonexistent",
    ),
    Case(
        "empty-train-folder",
        (),
        1,
        "{data}/train holds no class folders with images",
        data="empty-train",
    ),
    Case(
        "class-of-a-text-file",
        (),
        1,
        "class folder {data}/train/1 holds no images (1 other file(s)); add the "
        "class's images or move the folder away",
        data="text-class",
    ),
    Case(
        "empty-class-folder",
        (),
        1,
        "class folder {data}/train/1 holds no images (nothing); add the class's "
        "images or move the folder away",
        data="empty-class",
    ),
    Case(
        "class-folders-as-the-data-dir",
        (),
        1,
        "{data} holds class folders itself; put them in {data}/train/ (and "
        "validation ones in {data}/val/), or pass their parent as --data-dir",
        data="classes-only",
    ),
    Case(
        "val-class-not-in-train",
        (),
        1,
        "validation class '2' has no training images; the training classes are 0, 1",
        data="unknown-val-class",
    ),
    Case(
        "single-class",
        (),
        1,
        "found 1 class(es); a classifier needs two",
        data="single-class",
    ),
    Case(
        "csv-row-of-one-field",
        ("--train-csv", "{data}/one-field.csv"),
        1,
        "{data}/one-field.csv, line 3: expected path,label",
    ),
    Case(
        "csv-row-of-a-missing-file",
        ("--train-csv", "{data}/missing-file.csv"),
        1,
        "{data}/missing-file.csv, line 1: no such file {data}/train/0/nope.png",
    ),
    Case(
        "val-csv-without-train-csv",
        ("--val-csv", "{data}/good.csv"),
        1,
        "--val-csv needs --train-csv",
    ),
    Case(
        "val-split-0",
        ("--val-split", "0"),
        2,
        "argument --val-split: expected a fraction between 0 and 1, got 0",
    ),
    Case(
        "val-split-1.5",
        ("--val-split", "1.5"),
        2,
        "argument --val-split: expected a fraction between 0 and 1, got 1.5",
    ),
    Case(
        "unknown-model",
        ("--model", "nosuchmodel"),
        2,
        "argument --model: expected net or a torchvision classification model",
    ),
    Case(
        "pretrained-net",
        ("--pretrained",),
        2,
        "argument --pretrained: takes a torchvision --model, not net",
    ),
    Case(
        "convnext-at-16-pixels",
        ("--model", "convnext_tiny", "--image-size", "16"),
        1,
        "convnext_tiny cannot take 16x16 images (",
    ),
    Case(
        "resnet18-at-8-pixels",
        ("--model", "resnet18", "--image-size", "8"),
        1,
        "resnet18 makes images 32 times smaller: below 16x16 its last stages see a "
        "single pixel; choose a larger --image-size",
    ),
    Case(
        "pretrained-weights-not-downloaded",
        ("--model", "resnet18", "--pretrained"),
        1,
        "--pretrained: resnet18's weights are not in {hub}/checkpoints as "
        "resnet18-",  # then the file's name, its hash (published_file())
    ),
]


def write_images(folder: Path, count: int, start: int = 0) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(start, start + count):
        gray = (index * 37) % 256
        Image.new("L", (12, 12), gray).save(folder / f"{index:03d}.png")


@pytest.fixture(scope="module")
def bad_data(tmp_path_factory) -> Path:
    """A folder per data case: good/ (2 classes in train/ and val/, and CSV files,
    two of them bad), and each bad layout."""
    root = tmp_path_factory.mktemp("bad-data")
    for split, count in (("train", 6), ("val", 2)):
        for label in ("0", "1"):
            write_images(root / "good" / split / label, count)
    (root / "good/good.csv").write_text("path,label\ntrain/0/000.png,0\n")
    (root / "good/one-field.csv").write_text(
        "path,label\ntrain/0/000.png,0\ntrain/1/000.png\n"
    )
    (root / "good/missing-file.csv").write_text("train/0/nope.png,0\n")
    write_images(root / "val-only/val/0", 2)
    (root / "empty-train/train").mkdir(parents=True)
    write_images(root / "empty-class/train/0", 2)
    (root / "empty-class/train/1").mkdir()
    write_images(root / "classes-only/0", 2)
    write_images(root / "classes-only/1", 2)
    write_images(root / "text-class/train/0", 2)
    (root / "text-class/train/1").mkdir()
    (root / "text-class/train/1/notes.txt").write_text("no images yet\n")
    for label in ("0", "1"):
        write_images(root / "unknown-val-class/train" / label, 2)
    for label in ("0", "2"):
        write_images(root / "unknown-val-class/val" / label, 2)
    write_images(root / "single-class/train/0", 4)
    return root


def placeholders(env: Env, bad_data: Path, case: Case) -> dict[str, str]:
    return {"data": str(bad_data / case.data), "hub": str(env.torch_home / "hub")}


@pytest.fixture(scope="module")
def bad_results(env, bad_data) -> dict[str, dict]:
    """What each case did, all in one process, with an empty TORCH_HOME."""
    runs = {}
    for case in CASES:
        values = placeholders(env, bad_data, case)
        flags = [flag.format(**values) for flag in case.flags]
        runs[case.id] = env.argv(
            f"bad-{case.id}", "--data-dir", values["data"], "--device", "cpu", *flags
        )
    return run_each(env, runs)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_ends_the_run_with_one_error_line_before_training(
    case, env, bad_data, bad_results
):
    run = bad_results[case.id]
    stderr = run["stderr"]
    assert run["status"] == case.status, stderr
    last = one_error_line(stderr, case.status)
    assert case.error.format(**placeholders(env, bad_data, case)) in last, last
    assert "validation:" not in run["stdout"]  # no epoch ran
    assert not env.out(f"bad-{case.id}").exists()


def test_missing_pretrained_weights_name_the_file_and_its_folder(bad_results, env):
    [line] = bad_results["pretrained-weights-not-downloaded"]["stderr"].splitlines()
    folder = env.torch_home / "hub" / "checkpoints"
    assert f"not in {folder} as {published_file()}, and downloading them failed" in line
    assert line.endswith("; copy the file there, or run once with a network")


# ---------------------------------------------------------------- loading paths


def test_the_dataloader_path_trains_an_epoch_to_80_percent(env, digits_root, tmp_path):
    """--cache-limit 0: images decoded by worker processes every epoch, nothing
    cached."""
    cache_dir = tmp_path / "cache"
    start = time.perf_counter()
    result = run_python(
        [
            *("-m", f"{PACKAGE}.train", "--data-dir", str(digits_root)),
            *("--output-dir", str(env.out("loader")), "--cache-dir", str(cache_dir)),
            *("--cache-limit", "0", "--workers", "2", "--epochs", "1"),
            *("--device", "cpu"),
        ],
        cwd=env.root,
        **env.variables(),
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    assert "data: read by 2 worker processes every epoch" in result.stdout
    accuracy = final_accuracy(env.out("loader"))
    print(f"\nDataLoader path: 1 epoch, accuracy {accuracy:.4f} ({seconds:.1f} s)")
    assert accuracy > 0.8, f"accuracy {accuracy}"
    assert not cache_dir.exists()
    warnings = result.stderr.splitlines()
    for name in UNREADABLE:
        named = [line for line in warnings if f"{digits_root / name}: " in line]
        assert len(named) == 1, warnings
        assert named[0].startswith("warning: skipped "), named
    assert "Traceback" not in result.stderr


def test_the_cache_is_reused_until_an_image_changes_or_is_added(
    env, digits_root, tmp_path
):
    """Two runs of the same files: one cache file per split, written by the first
    run alone. A touched training image and an added validation image: a new
    cache file for each split, the old ones left as they were."""
    data, cache_dir = tmp_path / "few", tmp_path / "cache"
    for split, count in (("train", 30), ("val", 10)):
        for digit in DIGITS:
            folder = data / split / digit
            folder.mkdir(parents=True)
            for path in sorted((digits_root / split / digit).glob("[0-9]*"))[:count]:
                shutil.copy2(path, folder / path.name)

    def argv(output_dir):
        flags = env.argv(output_dir, "--data-dir", str(data), *SMALL)
        flags[flags.index("--cache-dir") + 1] = str(cache_dir)
        return flags

    start = time.perf_counter()
    succeeded(run_each(env, {"once": argv("once")})["once"])
    files = {path: path.stat().st_ino for path in cache_dir.iterdir()}
    assert len(files) == 2  # the training and the validation images
    succeeded(run_each(env, {"twice": argv("twice")})["twice"])
    print(
        f"\ncache: two runs of the same files took {time.perf_counter() - start:.1f} s"
    )
    # The second run read the files (marking them used: newer) and wrote none.
    assert {path: path.stat().st_ino for path in cache_dir.iterdir()} == files
    first_run_ended = (env.out("once") / "model.pt").stat().st_mtime_ns
    written = {path: path.stat().st_mtime_ns for path in files}
    assert all(mtime > first_run_ended for mtime in written.values())
    # Decoded or read from the cache, the images train the very same model.
    once, twice = (
        torch.load(env.out(run) / "model.pt", weights_only=True)["state_dict"]
        for run in ("once", "twice")
    )
    assert all(torch.equal(once[name], twice[name]) for name in once)

    touched = next((data / "train/3").iterdir())
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    shutil.copy2(touched, data / "val/3/added.png")
    succeeded(run_each(env, {"changed": argv("changed")})["changed"])
    now = {path: path.stat().st_mtime_ns for path in cache_dir.iterdir()}
    assert {path: now[path] for path in written} == written
    new = now.keys() - written.keys()
    counts = sorted(len(torch.load(path, weights_only=True)["images"]) for path in new)
    assert counts == [101, 300]  # val/ with the added image; train/ as it was


# ---------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def resumed(env, digits_root):
    """test_run_resume's checkpointed run (2 epochs of 6 iterations, accumulating 2)
    on the digits, uninterrupted in `reference/`; and killed at iteration 9
    (mid-epoch, mid-accumulation) and resumed from there in `killed/`."""

    def argv(output_dir, *more):
        flags = env.argv(output_dir, "--data-dir", str(digits_root), *RESUMABLE, *more)
        return ["-m", f"{PACKAGE}.train", *flags]

    start = time.perf_counter()
    reference = run_python(argv("reference"), cwd=env.root, **env.variables())
    assert reference.returncode == 0, reference.stderr[-3000:]
    checkpoints = env.out("killed") / "checkpoints"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.variables().items():
            patch.setenv(name, value)
        kill_when_written(
            argv("killed"), env.root, checkpoints / "checkpoint-00000009.pt"
        )
    halfway = torch.load(checkpoints / "checkpoint-00000009.pt", weights_only=True)
    resume = run_python(
        argv("killed", "--resume", str(checkpoints / "checkpoint-00000009.pt")),
        cwd=env.root,
        **env.variables(),
    )
    print(f"\nresume: three runs took {time.perf_counter() - start:.1f} s")
    return halfway, resume


def test_a_run_killed_mid_epoch_resumes_to_identical_weights(resumed, env):
    halfway, resume = resumed
    assert halfway["gradients"], "no gradients saved between two accumulated halves"
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert "resumed from" in resume.stdout and "at iteration 9" in resume.stdout
    assert "data: decoded once into memory" in resume.stdout  # the cached path
    assert_same_training(env.out("killed"), env.out("reference"))


# ---------------------------------------------------------------- own tests


def test_the_projects_own_data_tests_pass_quickly(env):
    start = time.perf_counter()
    result = run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_data.py"],
        cwd=env.root,
        **env.variables(),
    )
    seconds = time.perf_counter() - start
    print(f"\nthe project's tests/test_data.py: {seconds:.1f} s")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "passed" in result.stdout and "skipped" not in result.stdout


def test_under_torchrun_the_first_process_alone_warns_and_writes(env, digits_root):
    result = torchrun(
        env.root,
        *("-m", f"{PACKAGE}.train", "--data-dir", str(digits_root), "--device", "cpu"),
        *env.argv("torchrun", "--epochs", "1", "--epoch-length", "4"),
        **env.variables(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # torchrun may add lines of its own to stderr.
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warn")]
    named, count = skipped("\n".join(warnings))
    assert len(named) == len(UNREADABLE)  # once, not once per process
    assert count == "warning: 2 of 4002 images could not be read"
    assert result.stdout.count("epoch 1 validation:") == 1
    saved = torch.load(env.out("torchrun") / "model.pt", weights_only=True)
    assert saved["classes"] == DIGITS
