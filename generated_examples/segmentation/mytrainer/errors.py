"""How a run ends when something is wrong: one `error:` line, said once.

Everything a run can meet before or while training (a bad flag, data or a model
that cannot be used, a checkpoint that does not fit, a loss gone non-finite) is
a RunError, and main() ends each one through fail(), in every process alike.
"""

import os
import sys
import time


class RunError(Exception):
    """What stops a run, in one line.

    `shared`: every process meets it alike (flags, checkpoints), so under torchrun
    only the first says it; otherwise (data or weights one machine lacks) every
    process that meets it says so, since the first may not be among them.
    """

    shared = False
    status = 1  # the exit status
    hint = None  # a second line, saying where to look


class UsageError(RunError):
    """A flag, or a pair of flags, that no run could use."""

    shared = True
    status = 2  # as argparse exits
    hint = "--help lists every flag and its default"


class Interrupted(RunError):
    """Ctrl-C (or SIGINT from a scheduler): where the run stopped."""

    shared = True
    status = 130  # as shells report SIGINT


def fail(error):
    """Exit with `error` as one `error:` line on stderr (and, for a flag, a pointer
    to --help); under torchrun every process but the first stays quiet about an
    error all of them meet."""
    if error.shared and os.environ.get("RANK", "0") != "0":
        # torchrun stops every process as soon as one ends: wait for the first to
        # have printed and ended (torchrun then stops this one), or for 30 s.
        time.sleep(30)
        raise SystemExit(error.status)
    # Some of torch's messages run to paragraphs; their first line names the cause.
    lines = str(error).strip().splitlines() or [type(error).__name__]
    print(f"error: {lines[0]}", file=sys.stderr)
    if error.hint:
        print(error.hint, file=sys.stderr)
    raise SystemExit(error.status)
