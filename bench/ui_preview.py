"""`scaffold ui` preview latency: POST /api/render, as the page sends it on each click.

The server is `scaffold ui` itself, started as its own process (as a user runs it),
answering over 127.0.0.1; the goal is on the 95th percentile of the request's wall
time, client included (the table's value is the median). Warm: each case is requested once before timing, as the
page does when it loads (Jinja's templates compiled, black's cache filled). Every
request renders its options anew: the server keeps no cache of renders, because a
full render takes a few milliseconds.

Cases: the defaults; every metric and feature; options that change on every
request (a metric and a feature toggled in turn, as a user clicking through); and
every file's text in one answer (`all`, the largest one).

    python -m bench --only ui
    python bench/ui_preview.py --requests 400
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
from itertools import cycle
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, interleaved
from scaffold.registry import FEATURES, task_metrics

GOAL_MS = 150.0
REQUESTS = 200
FILE_FEATURES = [name for name, spec in FEATURES.items() if spec.render_time]
EVERYTHING = {
    "metrics": list(task_metrics("classification")),
    **{name: True for name in FILE_FEATURES},
}


def cases() -> dict[str, list[dict]]:
    """{case: the request bodies it cycles through}."""
    default = {"options": {"name": "mytrainer"}}
    return {
        "defaults, one file": [default],
        "every metric and feature, one file": [
            {"options": {"name": "mytrainer", **EVERYTHING}}
        ],
        "a metric or feature toggled each request": [
            {"options": {"name": "mytrainer", "metrics": ["accuracy", "nll", "topk"]}},
            {"options": {"name": "mytrainer", "checkpoint": True}},
            {"options": {"name": "mytrainer", "metrics": ["accuracy"]}},
            {"options": {"name": "mytrainer", "progress": True, "plot": True}},
        ],
        "every metric and feature, all texts": [
            {"options": {"name": "mytrainer", **EVERYTHING}, "all": True}
        ],
    }


class Client:
    """Requests to one `scaffold ui` process, token and all."""

    def __init__(self, address: str) -> None:
        rest = address.removeprefix("http://127.0.0.1:")
        port, query = rest.split("/?token=")
        self.port, self.token = int(port), query

    def render(self, body: dict) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json", "X-Scaffold-Token": self.token}
        connection.request("POST", "/api/render", json.dumps(body), headers)
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"render answered {response.status}: {answer[:200]!r}")


def p95(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=20, method="inclusive")[18]


def measure(requests: int = REQUESTS) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "scaffold", "ui", "--no-browser", "-o", out],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            address = server.stdout.readline().strip().removeprefix("scaffold ui: ")
            client = Client(address)
            bodies = cases()
            runners = {}
            for case, sequence in bodies.items():
                for body in sequence:
                    client.render(body)  # warm
                upcoming = cycle(sequence)
                runners[case] = lambda upcoming=upcoming: client.render(next(upcoming))
            times = interleaved(runners, requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows = []
    for case, seconds in times.items():
        worst = p95(seconds) * 1000
        median = statistics.median(seconds) * 1000
        rows.append(
            Row(
                "ui preview",
                case,
                median,
                "ms",
                f"p95 {worst:.1f} ms over {len(seconds)} requests",
                f"p95 < {GOAL_MS:.0f} ms",
                worst < GOAL_MS,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    from bench.run import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS, help="per case")
    args = parser.parse_args(argv)
    print_table(measure(args.requests))


if __name__ == "__main__":
    main()
