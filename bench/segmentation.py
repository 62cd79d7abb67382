"""One segmentation training epoch on the CPU: the generated `--task segmentation`
project's trainer against a raw PyTorch loop over the same batches, and its
validation pass.

    python -m bench --only segmentation --threads 1   # ~3 min; writes the canvases once

The data are `scripts/datasets.py`'s digit canvases (800 training and 200
validation images of 64 px with exact masks), read by the project's own
`get_data` with the train script's defaults: batches of 32 (a small training set,
data/sizing.py), a random resized crop of image and mask together per batch
(JointAugment), the U-Net in channels_last, fused AdamW with the one-cycle
schedule stepped every step.

The trainer is built from the train script's own pieces, as `train.train()` wires
them before its first epoch: `get_data`, `prepare_model`, `make_optimizer` (with
its scheduler), `create_supervised_trainer` with `model.loss.loss_fn`, the
RunningAverage of the loss, `stop_on_non_finite_loss`, the scheduler's handler and
the loss report every --log-interval steps. What `train()` adds at the end of an
epoch (validation, metrics.jsonl, model.pt) is timed apart: the generated
evaluator with every metric of `validation_metrics` against the model's bare
forward pass over the same validation batches.

Three paths step one model, optimizer and schedule and take turns every
TURN_STEPS steps of each epoch (`bench.epoch.taking_turns` says why):

- generated: the trainer over the project's loader, which augments each batch;
- raw loop: loss_fn(model(x), y), backward, the optimizer's step, zero_grad and
  the scheduler's step, over another pass of the same loader: the very batches
  the trainer draws (the loader's order and crops are seeded per epoch),
  augmented alike;
- floor: the same raw loop over those batches made before any clock starts:
  what the steps cost without the data path.

The generated path's ratio to the raw loop is the trainer's cost (engine and
handlers); the raw loop's ratio to the floor, the per-batch augmentation's.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import tempfile
import time
from pathlib import Path

import torch

from bench.common import Row, cache_root, generated, median
from bench.epoch import TURN_STEPS, ratio_note
from scripts.datasets import digit_canvases

GOAL_RATIO = 1.05  # the generated trainer, x the raw loop over the same batches
FIGURE = "segmentation epoch"
VALIDATION_FIGURE = "segmentation validation"
PATHS = ("generated", "raw loop", "floor")


def project(module: str):
    """A module of the generated `--task segmentation` project (data kind masks)."""
    return generated(module, "masks")


def canvases(root: Path | None = None) -> Path:
    """The digit canvases (800 training and 200 validation images of 64 px with
    masks), written on first use in the bench's data folder."""
    return digit_canvases(cache_root(root) / "digit-canvases")


def train_args(folder: Path, work: Path, batch: int | None = None):
    """The generated train script's arguments: its defaults on the CPU."""
    flags = ["--data-dir", str(folder), "--output-dir", str(work / "run")]
    flags += ["--device", "cpu"]
    if batch is not None:
        flags += ["--batch-size", str(batch)]
    return project("config").parse_args(flags)


class Run:
    """What `train.train()` builds before its first epoch, for `args`, with a
    schedule of `schedule_steps(steps per epoch)` steps: every path steps it."""

    def __init__(self, args, schedule_steps):
        train = project("train")
        engine = project("engine")
        self.args = args
        device = torch.device("cpu")
        torch.manual_seed(args.seed)
        wanted = project("model").model_preprocessing(args.model, args.pretrained)
        with contextlib.redirect_stdout(io.StringIO()):  # its data: line
            self.data = project("data").get_data(args, device, wanted)
        self.model = train.prepare_model(args, self.data, device)
        torch.manual_seed(args.seed)  # train.py reseeds here, for dropout and such
        self.optimizer, self.scheduler, event = train.make_optimizer(
            args, self.model, schedule_steps(len(self.data.train))
        )
        self.loss_fn = project("model.loss").loss_fn
        amp_dtype = None if args.amp == "off" else getattr(torch, args.amp)  # off here
        self.trainer = engine.create_supervised_trainer(
            self.model,
            self.optimizer,
            self.loss_fn,
            device=device,
            accumulation_steps=args.accumulate,
            clip_grad_norm=args.clip_grad_norm,
            amp_dtype=amp_dtype,
            scaler=torch.amp.GradScaler(
                device.type, enabled=amp_dtype == torch.float16
            ),
        )
        project("metrics").RunningAverage().attach(self.trainer, "loss")
        handlers = project("handlers")
        self.trainer.add_event_handler(
            engine.Events.ITERATION_COMPLETED, handlers.stop_on_non_finite_loss
        )
        self.trainer.add_event_handler(event, lambda _: self.scheduler.step())
        train.report_progress(self.trainer, args.log_interval)
        self.evaluator = train.make_evaluator(self.model, self.data.classes, device)

    def raw_steps(self, batches, steps: int) -> None:
        """`steps` training steps of a plain loop over `batches`."""
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        for x, y in itertools.islice(batches, steps):
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()

    def bare_validation(self) -> None:
        """The model's forward pass over the validation batches, nothing measured."""
        model = self.model
        model.eval()
        with torch.inference_mode():
            for x, _ in self.data.val:
                model(x)
        model.train()


def taking_turns(run: Run, repeats: int, clock=time.perf_counter) -> dict:
    """{path: [seconds of each epoch]} of PATHS taking turns every TURN_STEPS
    steps, and after each epoch the validation passes, in turns that alternate."""
    loader = run.data.train
    # Another pass over the same loader, with its own epoch: the Engine sets the
    # trainer's to 1 at the start of each run, and this one stays there.
    again = copy.copy(loader)
    again.set_epoch(1)
    loader.set_epoch(1)
    prebuilt = list(loader)
    events = project("engine").Events
    spent: dict = {}
    batches: dict = {}
    mark = 0.0

    def raw_steps(name, steps):
        start = clock()
        run.raw_steps(batches[name], steps)
        spent[name] += clock() - start

    @run.trainer.on(events.ITERATION_COMPLETED(every=TURN_STEPS))
    def hand_over(engine):
        nonlocal mark
        spent["generated"] += clock() - mark
        for name in PATHS[1:]:
            raw_steps(name, TURN_STEPS)
        mark = clock()

    def epoch(length=None):
        nonlocal mark
        spent.update(dict.fromkeys(PATHS, 0.0))
        batches.update({"raw loop": iter(again), "floor": iter(prebuilt)})
        mark = clock()
        with contextlib.redirect_stdout(io.StringIO()):  # the loss reports
            run.trainer.run(loader, max_epochs=1, epoch_length=length)
        spent["generated"] += clock() - mark
        for name in PATHS[1:]:  # the steps left after the last turn
            raw_steps(name, (length or len(loader)) % TURN_STEPS)
        return dict(spent)

    def validation(first, second):
        for name, check in (first, second):
            start = clock()
            check()
            spent[name] = clock() - start

    evaluate = ("validation", lambda: run.evaluator.run(run.data.val))
    bare = ("bare validation", run.bare_validation)
    # Untimed: the first steps and passes of each path set up kernels.
    epoch(min(TURN_STEPS, len(loader)))
    validation(evaluate, bare)
    times = {name: [] for name in (*PATHS, "validation", "bare validation")}
    for index in range(repeats):
        epoch()
        validation(*((evaluate, bare) if index % 2 else (bare, evaluate)))
        for name, seconds in spent.items():
            times[name].append(seconds)
        print(
            f"segmentation epoch {index + 1}: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in spent.items()),
            flush=True,
        )
    return times


def measure(
    folder: Path, repeats: int = 3, batch: int | None = None, clock=time.perf_counter
) -> list[Row]:
    """The section's rows for the segmentation folder `folder`; a small folder and
    one repeat make a smoke test of it."""
    with tempfile.TemporaryDirectory(prefix="bench-segmentation-") as work:
        args = train_args(folder, Path(work), batch)

        def schedule_steps(per_epoch):
            # Every path steps the one schedule: the warm-up and every timed epoch.
            return len(PATHS) * (TURN_STEPS + repeats * per_epoch)

        run = Run(args, schedule_steps)
        times = taking_turns(run, repeats, clock)
    loader, val = run.data.train, run.data.val
    images, val_images = len(loader.labels), len(val.labels)

    def row(name, case, note="", goal="", met=None):
        seconds = median(times[name])
        rate = f"{images / seconds:,.0f} images/s"
        return Row(FIGURE, case, seconds, "s", f"{rate}; {note}", goal, met)

    ratio, spread = ratio_note(times, "generated", "raw loop")
    floor_ratio, floor_spread = ratio_note(times, "generated", "floor")
    augment, augment_spread = ratio_note(times, "raw loop", "floor")
    checking, checking_spread = ratio_note(times, "validation", "bare validation")
    turns = (
        f"{images} images, batch {loader.batch_size}, {len(loader)} steps; {repeats} "
        f"epochs taking turns every {TURN_STEPS} steps"
    )
    return [
        row("floor", "U-Net: raw loop, prebuilt batches (floor)", turns),
        row(
            "raw loop",
            "U-Net: raw loop over the project's loader (same batches, augmented)",
            f"{augment:.3f}x floor ({augment_spread}): the per-batch crop",
        ),
        row(
            "generated",
            "U-Net: generated trainer + train.py's handlers, same loader",
            f"{ratio:.3f}x raw loop ({spread}), {floor_ratio:.3f}x floor "
            f"({floor_spread})",
            f"≤ {GOAL_RATIO}x raw loop",
            ratio <= GOAL_RATIO,
        ),
        Row(
            VALIDATION_FIGURE,
            "model's forward pass alone over the validation batches",
            median(times["bare validation"]),
            "s",
            f"{val_images} images, batch {val.batch_size}",
        ),
        Row(
            VALIDATION_FIGURE,
            "generated evaluator, validation_metrics (miou, iou, dice, "
            "pixel_accuracy, nll)",
            median(times["validation"]),
            "s",
            f"{checking:.3f}x the forward pass ({checking_spread})",
        ),
    ]
