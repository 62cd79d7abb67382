"""Every error scaffold reports to a user. The CLI prints the message on one line and exits 1."""


class ScaffoldError(Exception):
    """Base of all user-facing errors; the message alone must tell the user the remedy."""


class InvalidOption(ScaffoldError):
    """An option value is not one scaffold offers (unknown metric, bad project name, ...)."""


class OutputDirError(ScaffoldError):
    """The output directory cannot be written, or holds files and --force was not given."""


class NotAProject(ScaffoldError):
    """A path given to update/diff/check holds no scaffold record, or the record is corrupt."""


class UnresolvedConflicts(ScaffoldError):
    """The project still holds conflict markers from an earlier update."""


class NewerProject(ScaffoldError):
    """The project was written by a newer scaffold than the one running."""


class WriteFailed(ScaffoldError):
    """Writing files failed midway; what was written has been undone."""


class Busy(ScaffoldError):
    """Another scaffold process is writing the same project right now."""
