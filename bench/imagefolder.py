"""One epoch over a folder of 60,000 PNGs (Fashion-MNIST written as files), batch
128, on the CPU: the classic torchvision recipe, the generated `--data imagefolder`
project's first epoch and later epochs, and the in-memory floor; and a transfer
row, resnet18 at 64 px, the generated trainer against a raw loop.

    python -m bench --only imagefolder     # ~12 min on 2 cores; writes the folder once

What each path's clock holds (every path steps the same model and optimizer: the
generated Net, channels_last, fused AdamW at lr 1e-3, as the train script builds
them, without its scheduler):

- classic recipe: `ImageFolder(train, Grayscale(1), RandomResizedCrop(28, scale=
  (0.5, 1)), ToTensor(), Normalize)` + `DataLoader(batch 128, shuffle, 2 workers)`,
  one epoch, the workers' start included.
- generated, first epoch: `get_data(args)` from an empty `--cache-dir` (finding the
  70,000 files, decoding train and val with `--workers` processes, writing the
  cache, the mean and std) and one trainer epoch over its TensorLoader, whose
  BatchAugment crops and normalizes each batch. The classic recipe never reads the
  10,000 validation images; decoding them counts against the generated path, as
  it does in a real run.
- generated, later epochs: one trainer epoch over the TensorLoader of a
  `get_data(args)` that hit the cache (whose load is timed, and shown, alone).
- floor: a raw loop over the very batches that trainer draws, cut, cropped and
  normalized before any clock starts: the model's own cost.

How they take turns. Later epochs and the floor take turns every 10 steps of one
epoch (`bench.epoch.taking_turns`, and its reasons: one shared model, the same
drift for both), since their goal (1.05x) is finer than the drift of whole epochs
on a shared machine. The classic recipe and the first epoch cannot take turns:
the classic loader's two workers decode up to four batches ahead while another
path holds the model, on the same two cores, which would hand the classic recipe
free batches and slow the path in turn; and the first epoch's decoding is one
phase before its training. So each round runs the three whole, in an order that
rotates from round to round, and every ratio is the median over rounds of the
ratio within a round. Before any clock starts, the folder is read once (filling
the warm cache), so every path reads the files from the page cache, as a second
run does; a cold disk is not measured.

The transfer row: resnet18 (random weights) for 3 channels, as the train script
builds a torchvision model, at 64 px, decoded by the generated image cache from
a seeded sample of the training images; the trainer over a TensorLoader and a raw
loop over its very batches take turns every 10 steps, over a few hundred steps.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from bench.common import Row, generated, median
from bench.epoch import TURN_STEPS, taking_turns

BATCH = 128
WORKERS = 2  # the classic recipe's DataLoader
LATER_GOAL = 1.05  # x the floor
CLASSIC_GOAL = 2.0  # later epochs this many times faster than the classic recipe
FIRST_GOAL = 0.5  # x the classic recipe: a first epoch at least twice as fast
TRANSFER_GOAL = 1.02  # x the raw loop
TRANSFER_MODEL = "resnet18"
TRANSFER_SIZE = 64
TRANSFER_STEPS = 120  # a TensorLoader epoch: this many batches
TRANSFER_EPOCHS = 2
FIGURE = "image-folder epoch"
TRANSFER_FIGURE = f"{TRANSFER_MODEL} {TRANSFER_SIZE} px RGB (transfer)"


def project(module: str):
    """A module of the generated `--data imagefolder` project."""
    return generated(module, "imagefolder")


def train_args(folder: Path, cache_dir: Path, batch: int = BATCH, augment="crop"):
    """The generated train script's arguments: its defaults (--workers, --augment
    crop, seed 0) on the CPU, reading `folder`, caching in `cache_dir`."""
    return project("config").parse_args(
        ["--data-dir", str(folder), "--cache-dir", str(cache_dir)]
        + ["--output-dir", str(cache_dir / "run"), "--device", "cpu"]
        + ["--batch-size", str(batch), "--augment", augment]
    )


def get_data(args):
    """The generated get_data() for the Net, its progress lines left unprinted."""
    wanted = project("model").model_preprocessing("net", False)
    with contextlib.redirect_stdout(io.StringIO()):
        return project("data").get_data(args, torch.device("cpu"), wanted)


def classic_loader(folder: Path, mean, std, batch: int):
    transform = transforms.Compose(
        [
            transforms.Grayscale(1),
            transforms.RandomResizedCrop(28, scale=(0.5, 1.0)),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
    dataset = datasets.ImageFolder(folder / "train", transform=transform)
    return DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=WORKERS)


def raw_epoch(model, optimizer, batches):
    for x, y in batches:
        optimizer.zero_grad()
        F.nll_loss(model(x), y).backward()
        optimizer.step()


def ratios(times, name, base):
    """(median, "low-high") of the per-round ratios name / base."""
    values = sorted(a / b for a, b in zip(times[name], times[base]))
    return median(values), f"{values[0]:.3f}-{values[-1]:.3f}"


def epochs(folder: Path, work: Path, repeats: int, batch: int, clock=time.perf_counter):
    """({path: [seconds of each round]}, training images): the classic recipe, the
    generated first and later epochs and the floor, stepping one model."""
    warm_cache = work / "warm"
    data = get_data(train_args(folder, warm_cache, batch))  # untimed: fills the cache
    data.train.set_epoch(1)  # the Engine starts each run at epoch 1
    prebuilt = list(data.train)
    torch.manual_seed(0)
    model = project("model").build_model("net", len(data.classes), 1)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    raw_epoch(model, optimizer, prebuilt[:TURN_STEPS])  # untimed: sets up kernels
    preprocessing = data.preprocessing
    classic = classic_loader(folder, preprocessing.mean, preprocessing.std, batch)
    create_trainer = project("engine").create_supervised_trainer
    times = {
        name: []
        for name in (
            "classic",
            "first",
            "first load",
            "later",
            "warm load",
            "floor",
            "later, no augmentation",
            "floor beside it",
        )
    }

    def classic_epoch():
        start = clock()
        raw_epoch(model, optimizer, classic)
        times["classic"].append(clock() - start)

    def first_epoch():
        with tempfile.TemporaryDirectory(dir=work) as cold:
            start = clock()
            cold_data = get_data(train_args(folder, Path(cold), batch))
            loaded = clock()
            trainer = create_trainer(model, optimizer, F.nll_loss)
            trainer.run(cold_data.train, max_epochs=1)
            end = clock()
        times["first"].append(end - start)
        times["first load"].append(loaded - start)

    def later_epoch():
        # With the default crop, then without it: what the data path costs apart
        # from augmenting. Each takes turns with the floor.
        for augment, later, floor in (
            ("crop", "later", "floor"),
            ("none", "later, no augmentation", "floor beside it"),
        ):
            start = clock()
            warm_data = get_data(train_args(folder, warm_cache, batch, augment))
            if augment == "crop":
                times["warm load"].append(clock() - start)
            turns = taking_turns(
                lambda: (model, optimizer),
                warm_data.train,
                {"floor": prebuilt},
                repeats=1,
                clock=clock,
                data="imagefolder",
            )
            times[later] += turns["generated"]
            times[floor] += turns["floor"]

    paths = [classic_epoch, first_epoch, later_epoch]
    for round_number in range(repeats):
        shift = round_number % len(paths)
        for run in paths[shift:] + paths[:shift]:
            run()
        # Each round's own figures: a round that met a burst of load shows here.
        print(
            f"imagefolder round {round_number + 1}: "
            + ", ".join(
                f"{name} {seconds[-1]:.2f} s" for name, seconds in times.items()
            ),
            flush=True,
        )
    return times, len(data.train.labels)


def transfer(folder: Path, work: Path, steps: int, repeats: int, batch: int):
    """({"generated": [...], "floor": [...]} seconds per epoch of `steps` steps,
    steps): resnet18 on 64-px RGB batches, trainer and raw loop taking turns."""
    dataset = project("data.folders").find_dataset(folder)
    train = dataset.train
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(train.paths), generator=generator)
    chosen = sorted(order[: steps * batch].tolist())
    images, labels = project("data.image_cache").cached_images(
        [train.paths[i] for i in chosen],
        [train.labels[i] for i in chosen],
        3,
        TRANSFER_SIZE,
        TRANSFER_SIZE,
        work / "transfer",
        train_args(folder, work).workers,
        quiet=True,
    )
    mean, std = project("data.survey").channel_stats(images)
    loader = project("data.loaders").TensorLoader(
        images,
        labels,
        batch,
        shuffle=True,
        prepare=project("data.augment").BatchAugment(mean, std),
    )
    loader.set_epoch(1)
    prebuilt = list(loader)
    torch.manual_seed(0)
    model = project("model").build_model(TRANSFER_MODEL, len(dataset.classes), 3)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    times = taking_turns(
        lambda: (model, optimizer),
        loader,
        {"floor": prebuilt},
        repeats=repeats,
        data="imagefolder",
    )
    print(
        f"imagefolder transfer: {len(loader)} steps, trainer "
        + ", ".join(f"{seconds:.1f}" for seconds in times["generated"])
        + " s, raw loop "
        + ", ".join(f"{seconds:.1f}" for seconds in times["floor"])
        + " s",
        flush=True,
    )
    return times, len(loader)


def measure(
    folder: Path,
    repeats: int = 3,
    transfer_steps: int = TRANSFER_STEPS,
    transfer_epochs: int = TRANSFER_EPOCHS,
    batch: int = BATCH,
) -> list[Row]:
    """The section's rows for the image folder `folder` (train/ and val/); a
    smaller batch and fewer steps make a smoke test of it."""
    with tempfile.TemporaryDirectory(prefix="bench-imagefolder-") as work:
        times, images = epochs(folder, Path(work), repeats, batch)
        transfer_times, steps = transfer(
            folder, Path(work), transfer_steps, transfer_epochs, batch
        )

    def row(name, case, note, goal="", met=None):
        seconds = median(times[name])
        rate = f"{images / seconds:,.0f} images/s"
        return Row(FIGURE, case, seconds, "s", f"{rate}; {note}", goal, met)

    later_floor, later_spread = ratios(times, "later", "floor")
    plain_floor, plain_spread = ratios(
        times, "later, no augmentation", "floor beside it"
    )
    classic_later, classic_spread = ratios(times, "classic", "later")
    first_classic, first_spread = ratios(times, "first", "classic")
    classic_floor, _ = ratios(times, "classic", "floor")
    first_floor, _ = ratios(times, "first", "floor")
    transfer_ratio, transfer_spread = ratios(transfer_times, "generated", "floor")
    rounds = f"{repeats} rounds, median of per-round ratios"

    def transfer_row(name, case, note="", goal="", met=None):
        per_step = median(transfer_times[name]) / steps
        rate = f"{batch / per_step:,.0f} images/s"
        return Row(
            TRANSFER_FIGURE, case, per_step, "s/step", f"{rate}; {note}", goal, met
        )

    return [
        row(
            "floor",
            "generated Net: raw loop, prebuilt batches (floor)",
            f"{images:,} images; {rounds}",
        ),
        row(
            "later",
            "generated, later epoch: trainer + TensorLoader (cache hit)",
            f"{later_floor:.3f}x floor ({later_spread})",
            f"≤ {LATER_GOAL}x floor",
            later_floor <= LATER_GOAL,
        ),
        row(
            "later, no augmentation",
            "the same with --augment none: the data path without the crop",
            f"{plain_floor:.3f}x floor ({plain_spread})",
            f"≤ {LATER_GOAL}x floor",
            plain_floor <= LATER_GOAL,
        ),
        row(
            "first",
            "generated, first epoch: get_data (empty cache) + trainer",
            f"{first_classic:.3f}x classic ({first_spread}), {first_floor:.2f}x "
            f"floor; get_data {median(times['first load']):.1f} s of it",
            f"≤ {FIRST_GOAL}x classic",
            first_classic <= FIRST_GOAL,
        ),
        Row(
            FIGURE,
            "generated: get_data from the cache, before a later run's first epoch",
            median(times["warm load"]),
            "s",
            "files listed and keyed, cache read, mean and std",
        ),
        row(
            "classic",
            f"classic: ImageFolder + transforms + DataLoader, {WORKERS} workers",
            f"{classic_floor:.2f}x floor, {classic_later:.2f}x a later epoch "
            f"({classic_spread})",
            f"≥ {CLASSIC_GOAL:.0f}x a later epoch",
            classic_later >= CLASSIC_GOAL,
        ),
        transfer_row(
            "floor",
            "raw loop, prebuilt batches",
            f"{steps} steps x {len(transfer_times['floor'])} epochs, turns every "
            f"{TURN_STEPS} steps",
        ),
        transfer_row(
            "generated",
            "generated trainer + TensorLoader",
            f"{transfer_ratio:.3f}x raw loop ({transfer_spread})",
            f"≤ {TRANSFER_GOAL}x raw loop",
            transfer_ratio <= TRANSFER_GOAL,
        ),
    ]
