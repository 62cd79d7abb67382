"""metrics.jsonl: the metric history of a run, one JSON object per epoch."""

import json
import os

import torch


class History:
    """The rows of `path`, one per finished epoch, written as the run goes.

    Nothing is written until the first epoch ends, so a run that fails to start
    leaves an earlier run's file as it was. The file is then rewritten whole
    (through a temporary file and a rename) with the rows kept from before, which
    a resumed run sets with keep_until(epoch), and the new row.
    """

    def __init__(self, path):
        self.path = path
        self.rows = []

    def keep_until(self, epoch):
        """Keep this file's rows of epochs up to `epoch`: the ones a resumed run
        does not train again. A torn last line (a kill mid-write) is dropped."""
        self.rows = [row for row in self.read() if row["epoch"] <= epoch]

    def read(self):
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # only a kill mid-write leaves such a line
        return rows

    def append(self, record):
        self.rows.append({name: as_json(value) for name, value in record.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(json.dumps(row) + "\n" for row in self.rows))
        os.replace(temporary, self.path)

    def newest_is_best(self, name, mode):
        """Whether the last row appended is the best so far by `name` (of equal
        scores, the earliest is the best)."""
        return bool(self.rows) and self.best(name, mode) is self.rows[-1]

    def best(self, name, mode):
        """The row with the best `name` ("max": highest, "min": lowest), or None."""
        rows = [row for row in self.rows if name in row]
        if not rows:
            return None
        pick = max if mode == "max" else min
        return pick(rows, key=lambda row: row[name])


def as_json(value):
    # Metrics are floats or tensors (per-class scores, confusion matrices).
    return value.tolist() if isinstance(value, torch.Tensor) else value
