"""The train script's command line: every flag with its default, checked up front.

A value no run could use (a batch of 0, a learning rate of nan, a device this
machine lacks, an --output-dir holding an earlier run) is an argparse error before
any work starts, not a traceback minutes later. `--config` takes every flag from
an earlier run's config.json; flags given with it win.
"""

import argparse
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.distributed as dist

from .arguments import (
    ArgumentParser,
    HelpFormatter,
    available_device,
    existing_file,
    non_negative_float,
    positive_float,
    positive_int,
    seed,
    writable_folder,
)
from .data import add_arguments as add_data_arguments
from .engine.sharding import STRATEGIES
from .evaluation import monitored_scores
from .model.backbones import model_name
from .model.loss import loss_fn
from .run_config import replayed_flags
from .run_folder import RUNS

# Each schedule with the peak or initial learning rate it was tuned with.
SCHEDULERS = {"onecycle": 0.01, "cosine": 0.003, "step": 0.003, "none": 0.001}
# Which scores exist, and which way is better, is the same for any class count.
MONITORED = monitored_scores(2, loss_fn)
# The torch.distributed backends that this build of torch has.
BACKENDS = {
    "gloo": dist.is_gloo_available,
    "nccl": dist.is_nccl_available,
    "mpi": dist.is_mpi_available,
}

# How to start the same program on several processes or machines.
LAUNCHES = """\
several processes, on one machine or two (run the second line on both, HOST
being the first machine and ID a name the two share):
  torchrun --nproc-per-node=4 -m mytrainer.train --data-dir DIR
  torchrun --nnodes=2 --nproc-per-node=4 --rdzv-backend=c10d \\
      --rdzv-endpoint=HOST:29500 --rdzv-id=ID -m mytrainer.train --data-dir DIR
"""


class Conflict(NamedTuple):
    """Two flags that no run can take together: when `given(args)` holds, the run
    ends with `argument FLAG: REASON`."""

    flag: str  # the flag the error names
    other: str  # the flag it cannot go with
    given: Callable[[argparse.Namespace], bool]
    reason: str


# Every pair of flags refused before any work starts, checked in this order.
CONFLICTS = (
    Conflict(
        "--backend",
        "--device",
        lambda args: args.backend == "nccl" and args.device.type != "cuda",
        "nccl runs on CUDA devices; use gloo",
    ),
    Conflict(
        "--pretrained",
        "--model",
        lambda args: args.pretrained and args.model == "net",
        "takes a torchvision --model, not net",
    ),
    Conflict(
        "--freeze-backbone",
        "--model",
        lambda args: args.freeze_backbone and args.model == "net",
        "takes a torchvision --model, not net",
    ),
    Conflict(
        "--width",
        "--model",
        lambda args: args.width != 1 and args.model != "net",
        "scales net; a torchvision --model has widths of its own",
    ),
    Conflict(
        "--weights",
        "--pretrained",
        lambda args: args.weights is not None and args.pretrained,
        "not with --pretrained; choose one",
    ),
)


def parse_args(argv=None):
    parser = ArgumentParser(
        description="Train a segmentation model, validating after every epoch.",
        epilog=LAUNCHES,
        formatter_class=HelpFormatter,
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--output-dir",
        type=writable_folder,
        help=f"where results go (default: a new folder in {RUNS}/, named by the "
        "time the run starts)",
    )
    parser.add_argument(
        "--config",
        type=existing_file,
        help="take every flag from an earlier run's config.json, the flags given "
        "here changing it (default: only the flags given here)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help="to train (default: 1, more on a small training set: see data/sizing.py)",
    )
    parser.add_argument(
        "--epoch-length",
        type=positive_int,
        help="iterations per epoch (default: one pass over the training set); "
        "a few make a quick smoke test",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="training batch, shared out among the processes under torchrun "
        "(default: 128, smaller on a small training set); an epoch's last batch of "
        "a single sample is left out (BatchNorm needs two)",
    )
    parser.add_argument(
        "--eval-batch-size", type=positive_int, default=500, help="evaluation batch"
    )
    parser.add_argument(
        "--model",
        type=model_name,
        default="net",
        help="net: this project's small U-Net; or a torchvision segmentation model "
        "by name (lraspp_mobilenet_v3_large, deeplabv3_resnet50, fcn_resnet50, ...)",
    )
    parser.add_argument(
        "--width",
        type=positive_float,
        default=1.0,
        help="with --model net: scale its channels and hidden units (2: twice as "
        "many); model.pt records it for predict",
    )
    parser.add_argument(
        "--pretrained",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="start a torchvision model from its published weights (torchvision "
        "downloads them once into $TORCH_HOME/hub/checkpoints)",
    )
    parser.add_argument(
        "--weights",
        type=existing_file,
        help="start from a state_dict file, such as a run's model.pt or one of "
        "torchvision's (default: freshly initialized weights)",
    )
    parser.add_argument(
        "--freeze-backbone",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="train only the new class layers of a torchvision model",
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
        choices=["auto", "on", "off", "bfloat16", "float16"],
        default="auto",
        help="mixed precision: autocast to bfloat16 or float16 (with loss scaling); "
        "on: bfloat16, or float16 on GPUs without it; auto: on for CUDA devices only",
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
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="ddp",
        help="under torchrun, how the processes share the model: ddp, a whole copy "
        "each; fsdp, a shard each of its weights, gradients and optimizer state, "
        "for a model too large for one device (one process trains it whole)",
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
        action=argparse.BooleanOptionalAction,
        default=False,
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
    args = parse_with_config(parser, argv)
    # A new run would overwrite an earlier run's results.
    if args.output_dir and (args.output_dir / "metrics.jsonl").exists():
        parser.error(
            f"argument --output-dir: {args.output_dir} holds an earlier run's results; "
            "choose another folder, or move that one away"
        )
    # torchrun tells each process the number of processes before they join.
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch_size and args.batch_size % processes:
        parser.error(
            f"argument --batch-size: expected a multiple of the {processes} "
            f"processes, which share each batch, got {args.batch_size}"
        )
    for conflict in CONFLICTS:
        if conflict.given(args):
            parser.error(f"argument {conflict.flag}: {conflict.reason}")
    args.lr = args.lr or SCHEDULERS[args.scheduler]
    args.monitor_mode = args.monitor_mode or MONITORED[args.monitor]
    args.amp = resolve_amp(args.amp, args.device)
    return args


def resolve_amp(amp, device):
    """The precision --amp `amp` gives on `device`: bfloat16, float16 (the dtypes
    autocast takes) or off (float32), which config.json records.

    auto is off on the CPU, where most lack bfloat16 units and run autocast slower
    than float32; on takes float16, whose loss needs scaling, on GPUs without
    bfloat16.
    """
    if amp == "auto":
        amp = "on" if device.type == "cuda" else "off"
    if amp == "on":
        without_bfloat16 = device.type == "cuda" and not torch.cuda.is_bf16_supported()
        amp = "float16" if without_bfloat16 else "bfloat16"
    return amp


def parse_with_config(parser, argv):
    """`parser`'s reading of `argv`, after the flags of the run --config names."""
    argv = sys.argv[1:] if argv is None else list(argv)
    replay = ArgumentParser(add_help=False)
    replay.add_argument("--config", type=existing_file)
    config = replay.parse_known_args(argv)[0].config
    replayed = [] if config is None else replayed_flags(parser, config)
    args = parser.parse_args([*replayed, *argv])
    args.argv = argv  # the command line, for the run's config.json
    return args
