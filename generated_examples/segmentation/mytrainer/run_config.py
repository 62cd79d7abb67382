"""config.json: what made a run, in its folder, so that it can be run again.

    {"project": "mytrainer", "template_version": "0.1.0",
     "command": "python -m mytrainer.train --epochs 5",
     "flags": {"epochs": 5, "lr": 0.01, "device": "cpu", ...},
     "versions": {"python": "3.11.7", "torch": "2.5.1", "torchvision": "0.20.1"},
     "git": {"commit": "9f2c...", "dirty": false}, ...}

`flags` holds every flag with the value the run used, defaults filled in (the
learning rate the schedule chose, the device, the precision --amp chose there, the
backend under torchrun). Run it again, changing what you like on the command line:

    python -m mytrainer.train --config runs/X/config.json --epochs 10
    python -m mytrainer.train --config runs/X/config.json --no-compile
"""

import importlib.metadata
import json
import os
import platform
import re
import shlex
import subprocess
from pathlib import Path

import torch
import torch.distributed as dist

from .engine.distributed import get_world_size
from .errors import UsageError

PROJECT = __package__
# The release of the code this project was made from, or last updated to.
TEMPLATE_VERSION = "0.1.0"
# Not taken from another run: a replay starts afresh, in a folder of its own.
NOT_REPLAYED = ("argv", "config", "output_dir", "resume")


def write_config(path, args, preprocessing):
    """Write the config.json of the run that `args` describe to `path`."""
    config = {
        "project": PROJECT,
        "template_version": TEMPLATE_VERSION,
        "command": shlex.join(["python", "-m", f"{PROJECT}.train", *args.argv]),
        "processes": get_world_size(),
        "flags": resolved_flags(args, preprocessing),
        "preprocessing": preprocessing._asdict(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            # From its metadata: importing torchvision takes over a second.
            "torchvision": importlib.metadata.version("torchvision"),
        },
        "git": git_state(Path(__file__).resolve().parent.parent),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(temporary, path)


def resolved_flags(args, preprocessing):
    """Every flag of `args` as JSON values (paths and devices as text)."""
    flags = {
        name: value if isinstance(value, (bool, int, float, type(None))) else str(value)
        for name, value in vars(args).items()
        if name not in NOT_REPLAYED
    }
    if "image_size" in flags:  # the size the data survey chose, when not given
        flags["image_size"] = preprocessing.image_size
    if dist.is_initialized():  # the backend torchrun's processes joined with
        flags["backend"] = dist.get_backend()
    return flags


def git_state(folder):
    """The commit checked out in the repository that holds `folder`, and whether
    any file differs from it; None outside a repository or without git."""
    try:
        commit = git(folder, "rev-parse", "HEAD")
        changes = git(folder, "status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(changes)}


def git(folder, *arguments):
    return subprocess.run(
        ["git", *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()


def replayed_flags(parser, path):
    """The flags that repeat the run whose config.json is at `path`, in the
    command-line form that `parser` reads (to go before the flags given, which win)."""
    where = f"argument --config: {path}"
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{where}: cannot be read ({error})") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{where} is not JSON ({error})") from None
    if not isinstance(config, dict) or not isinstance(config.get("flags"), dict):
        raise UsageError(f"{where} is not a run's config.json: it has no flags")
    if config.get("project") != PROJECT:
        raise UsageError(f"{where} is a run of {config.get('project')}, not {PROJECT}")
    version = str(config.get("template_version"))
    if release(version) > release(TEMPLATE_VERSION):
        raise UsageError(
            f"{where} is a run of templates {version}, newer than this project's "
            f"{TEMPLATE_VERSION}: update the project first (scaffold update)"
        )
    flags = {k: v for k, v in config["flags"].items() if k not in NOT_REPLAYED}
    try:
        return parser.command_line(flags)
    except KeyError as error:  # a flag this project no longer has, or a typo
        raise UsageError(f"{where} sets {error.args[0]}: no such flag") from None


def release(version):
    """A version's release numbers, for comparing: "0.10.1" -> (0, 10, 1)."""
    return tuple(int(number) for number in re.findall(r"\d+", version)[:3])
