"""metrics.jsonl: written whole after each epoch, and readable after a kill."""

import json
from pathlib import Path

import pytest

from mytrainer.handlers import History


def test_a_failed_write_leaves_the_previous_history_as_it_was(tmp_path, monkeypatch):
    history = History(tmp_path / "metrics.jsonl")
    history.append({"epoch": 1, "accuracy": 0.5})
    before = history.path.read_bytes()

    def disk_full(path, text):
        with open(path, "w") as file:
            file.write(text[:10])  # a torn first line
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError):
        history.append({"epoch": 2, "accuracy": 0.75})

    assert history.path.read_bytes() == before


def test_resuming_keeps_the_rows_up_to_its_epoch_and_drops_a_torn_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"epoch": epoch, "accuracy": epoch / 10} for epoch in (1, 2, 3)]
    torn = json.dumps({"epoch": 4, "accuracy": 0.4})[:9]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + torn)

    history = History(path)
    history.keep_until(2)
    history.append({"epoch": 3, "accuracy": 0.35})

    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert written == [*rows[:2], {"epoch": 3, "accuracy": 0.35}]
