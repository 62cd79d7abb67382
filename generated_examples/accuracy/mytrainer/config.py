"""The train script's command line: every flag with its default, checked up front.

A value no run could use (a batch of 0, a learning rate of nan, a device this
machine lacks) is an argparse error before any work starts, not a traceback
minutes later.
"""

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import DATASETS, NUM_CLASSES
from .evaluation import monitored_scores

# Each schedule with the peak or initial learning rate it was tuned with.
SCHEDULERS = {"onecycle": 0.01, "cosine": 0.003, "step": 0.003, "none": 0.001}
MONITORED = monitored_scores(NUM_CLASSES, F.nll_loss)


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
    return device


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a CNN on MNIST or Fashion-MNIST.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--data-dir", default="data", help="dataset root folder")
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default="mnist", help="what to train on"
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path("runs"), help="where results go"
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
        choices=["gloo", "nccl", "mpi"],
        help="torch.distributed backend under torchrun "
        "(default: nccl on GPUs, gloo on the CPU)",
    )
    parser.add_argument("--seed", type=int, default=0, help="for a repeatable run")
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
    args = parser.parse_args(argv)
    args.lr = args.lr or SCHEDULERS[args.scheduler]
    args.monitor_mode = args.monitor_mode or MONITORED[args.monitor]
    return args
