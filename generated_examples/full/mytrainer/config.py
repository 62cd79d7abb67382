"""The train script's command line: every flag with its default, checked up front.

A value no run could use (a batch of 0, a learning rate of nan, a device this
machine lacks, an --output-dir holding an earlier run) is an argparse error before
any work starts, not a traceback minutes later.
"""

import argparse
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from .data import DATASETS, NUM_CLASSES
from .evaluation import monitored_scores

# Each schedule with the peak or initial learning rate it was tuned with.
SCHEDULERS = {"onecycle": 0.01, "cosine": 0.003, "step": 0.003, "none": 0.001}
MONITORED = monitored_scores(NUM_CLASSES, F.nll_loss)
# The torch.distributed backends that this build of torch has.
BACKENDS = {
    "gloo": dist.is_gloo_available,
    "nccl": dist.is_nccl_available,
    "mpi": dist.is_mpi_available,
}


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text}")
    return value


def positive_float(text):
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def non_negative_float(text):
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def seed(text):
    value = int(text)
    # Each process seeds torch with seed + rank, and each epoch's order with
    # seed + epoch: they stay within the 64 bits torch takes.
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to 2**63 - 1, got {text}"
        )
    return value


def available_device(text):
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"expected a torch device such as cpu, cuda or cuda:1, got {text}"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: this machine has no CUDA device")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    if device.type not in ("cpu", "cuda"):
        # mps, xpu and the like: an empty tensor is the one test every kind passes.
        try:
            torch.empty(0, device=device)
        except Exception:
            raise argparse.ArgumentTypeError(
                f"{text}: this machine or this build of torch has no such device"
            ) from None
    return device


def nearest_existing(path):
    """`path`, or the nearest of its parents that exists."""
    return next(p for p in [path, *path.parents] if os.path.exists(p))


def folder(text):
    """A folder, or a path where one can be made: not a file nor under one."""
    path = Path(text)
    existing = nearest_existing(path)
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{existing} is a file, not a folder")
    return path


def writable_folder(text):
    """A folder() this process may write in: a run finds out now, not when it
    writes its first results."""
    path = folder(text)
    existing = nearest_existing(path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{existing} is not writable")
    return path


def exit_quietly(status):
    """Exit without a word, as every process under torchrun but the first does on
    an error that all of them meet, so that the first alone prints it. torchrun
    stops every process as soon as one ends: this one waits for the first to have
    printed and ended (torchrun then stops it), or for 30 s."""
    time.sleep(30)
    raise SystemExit(status)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with one error message under torchrun: every process
    parses the same flags, and only the first (RANK 0) prints what is wrong."""

    def error(self, message):
        if os.environ.get("RANK", "0") != "0":
            exit_quietly(2)
        super().error(message)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    parser = ArgumentParser(
        description="Train a CNN on MNIST or Fashion-MNIST.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--data-dir", type=folder, default="data", help="dataset root folder"
    )
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default="mnist", help="what to train on"
    )
    parser.add_argument(
        "--output-dir",
        type=writable_folder,
        default="runs",
        help="where results go: a folder per run",
    )
    parser.add_argument("--epochs", type=positive_int, default=1, help="to train")
    parser.add_argument(
        "--epoch-length",
        type=positive_int,
        help="iterations per epoch (default: one pass over the training set); "
        "a few make a quick smoke test",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=128,
        help="training batch, shared out among the processes under torchrun",
    )
    parser.add_argument(
        "--eval-batch-size", type=positive_int, default=500, help="evaluation batch"
    )
    parser.add_argument(
        "--loader",
        choices=["tensor", "dataloader"],
        default="tensor",
        help="tensor: in-memory batches (fast); dataloader: Dataset + DataLoader",
    )
    parser.add_argument(
        "--scheduler",
        choices=sorted(SCHEDULERS),
        default="onecycle",
        help="learning rate schedule, stepped per optimizer step (step: per epoch)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        help="peak or initial learning rate (default: the schedule's, "
        + ", ".join(f"{name} {lr}" for name, lr in SCHEDULERS.items())
        + ")",
    )
    parser.add_argument(
        "--lr-step-epochs",
        type=positive_int,
        default=2,
        help="with --scheduler step: epochs between learning rate cuts",
    )
    parser.add_argument(
        "--lr-gamma",
        type=positive_float,
        default=0.1,
        help="with --scheduler step: factor of each cut",
    )
    parser.add_argument(
        "--weight-decay", type=non_negative_float, default=0.01, help="AdamW's"
    )
    parser.add_argument(
        "--accumulate",
        type=positive_int,
        default=1,
        help="batches whose gradients are summed before each optimizer step",
    )
    parser.add_argument(
        "--clip-grad-norm",
        type=positive_float,
        help="clip the gradients' total L2 norm to this (default: no clipping)",
    )
    parser.add_argument(
        "--amp",
        choices=["auto", "on", "off"],
        default="auto",
        help="mixed precision: autocast to bfloat16 (float16 with loss scaling on "
        "GPUs without bfloat16); auto: on CUDA devices only",
    )
    parser.add_argument(
        "--device",
        type=available_device,
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device to train on",
    )
    parser.add_argument(
        "--backend",
        choices=[name for name, available in BACKENDS.items() if available()],
        help="torch.distributed backend under torchrun "
        "(default: nccl on GPUs, gloo on the CPU)",
    )
    parser.add_argument("--seed", type=seed, default=0, help="for a repeatable run")
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="NHWC activations, which CPU and cuDNN convolutions run faster",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training step's model: pays off on GPUs over long "
        "runs; the first steps wait tens of seconds for the compiler",
    )
    parser.add_argument(
        "--log-interval",
        type=positive_int,
        default=20,
        help="iterations between training loss reports",
    )
    parser.add_argument(
        "--monitor",
        choices=sorted(MONITORED),
        default=next(iter(MONITORED)),
        help="the validation score that names the best epoch",
    )
    parser.add_argument(
        "--monitor-mode",
        choices=["max", "min"],
        help="whether higher or lower is better (default: min for losses, else max)",
    )
    parser.add_argument(
        "--patience",
        type=positive_int,
        default=3,
        help="stop after this many epochs without improvement in --monitor",
    )
    parser.add_argument(
        "--min-delta",
        type=non_negative_float,
        default=0.0,
        help="the least change that improves",
    )
    parser.add_argument(
        "--resume",
        metavar="PATH|last",
        help="continue from a checkpoint file, or from the newest readable one in "
        "<output-dir>/checkpoints with 'last' (default: start afresh)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=non_negative_int,
        default=0,
        help="also checkpoint every this many iterations (0: only after each epoch)",
    )
    parser.add_argument(
        "--keep-last",
        type=positive_int,
        default=2,
        help="how many recent checkpoints to keep",
    )
    parser.add_argument(
        "--keep-best",
        type=non_negative_int,
        default=1,
        help="how many best checkpoints (by --monitor) to keep",
    )
    args = parser.parse_args(argv)
    own_checkpoints = (args.output_dir / "checkpoints").resolve()
    continues_its_run = args.resume == "last" or (
        args.resume is not None
        and Path(args.resume).resolve().parent == own_checkpoints
    )
    # A new run would overwrite an earlier run's results; resuming that run from one
    # of its own checkpoints goes on with them.
    if (args.output_dir / "metrics.jsonl").exists() and not continues_its_run:
        parser.error(
            f"argument --output-dir: {args.output_dir} holds an earlier run's results; "
            "continue that run with --resume last, or choose another folder"
        )
    # torchrun tells each process the number of processes before they join.
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch_size % processes:
        parser.error(
            f"argument --batch-size: expected a multiple of the {processes} "
            f"processes, which share each batch, got {args.batch_size}"
        )
    if args.backend == "nccl" and args.device.type != "cuda":
        parser.error("argument --backend: nccl runs on CUDA devices; use gloo")
    args.lr = args.lr or SCHEDULERS[args.scheduler]
    args.monitor_mode = args.monitor_mode or MONITORED[args.monitor]
    return args
