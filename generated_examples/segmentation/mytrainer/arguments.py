"""The flags' parser and types: each type turns a flag's text into a value, or
into an error that names what was expected, before any work starts."""

import argparse
import math
import os
from pathlib import Path

import torch

from .errors import UsageError


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors end the run as every other error does: one
    line, said once under torchrun (see errors.py), with no usage block."""

    def error(self, message):
        raise UsageError(message)

    def command_line(self, values):
        """The flags that set each of `values` ({dest: value}, as parse_args
        returns them): {"epochs": 5, "pretrained": True, "weights": None} gives
        ["--epochs=5", "--pretrained"]; None leaves a flag at its default. A name
        that is no flag's is a KeyError."""
        actions = {action.dest: action for action in self._actions}
        flags = []
        for name, value in values.items():
            action = actions[name]
            flag = action.option_strings[0]
            if isinstance(action, argparse.BooleanOptionalAction):
                flags.append(flag if value else f"--no-{flag[2:]}")
            elif isinstance(value, bool):  # a store_true switch
                flags += [flag] if value else []
            elif value is not None:
                flags.append(f"{flag}={value}")  # one token, even for "-1"
        return flags


class HelpFormatter(
    argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter
):
    """Shows each flag's default, except where there is none to show, and the
    description and epilog as written (commands keep their lines)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            # Before Python 3.13, BooleanOptionalAction adds "(default: False)".
            return action.help and action.help.removesuffix(" (default: %(default)s)")
        return super()._get_help_string(action)


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


def fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1, got {text}"
        )
    return value


def existing_file(text):
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def add_saved_model_arguments(parser, exported=False):
    """--checkpoint and --device: the flags of every program that uses a model
    train saved (predict, evaluate); `exported`: export's files do too."""
    files = "a run's model.pt (its best epoch), last.pt or checkpoints/*.pt"
    if exported:
        files += ", or a .onnx or .pt2 file that export wrote"
    parser.add_argument("--checkpoint", type=existing_file, required=True, help=files)
    parser.add_argument(
        "--device",
        type=available_device,
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="torch device to run on",
    )
