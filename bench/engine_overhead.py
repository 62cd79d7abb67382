"""How much an Engine adds per iteration over a bare Python loop.

The process function returns at once, so only the dispatch is measured: with no
handlers, and with five no-op handlers of which two are filtered with every=.
The goals: an absolute bound, and at most a third of ignite's overhead.
The generated Engine, pytorch-ignite's and Lightning's (a no-op training_step;
its fixed start-up cost is left out) run when installed. Numbers are CPU time
per iteration; each overhead is the median over repeats of (engine - bare loop)
timed back to back.

    python bench/engine_overhead.py [--iterations 50000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import peers
from bench.common import Row, generated, interleaved, paired_overhead

GOALS_US = {False: 1.2, True: 2.3}  # overhead with 0 and with 5 handlers
IGNITE_SHARE = 1 / 3  # and at most this share of ignite's, when it is installed


def process(engine, batch):
    return batch


def noop(engine):
    pass


def add_five_handlers(engine, events):
    engine.add_event_handler(events.ITERATION_STARTED, noop)
    engine.add_event_handler(events.ITERATION_COMPLETED, noop)
    engine.add_event_handler(events.ITERATION_COMPLETED, noop)
    engine.add_event_handler(events.ITERATION_COMPLETED(every=10), noop)
    engine.add_event_handler(events.ITERATION_COMPLETED(every=100), noop)


def engine_runner(module, data, handlers: bool):
    engine = module.Engine(process)
    if handlers:
        add_five_handlers(engine, module.Events)
    return lambda: engine.run(data, max_epochs=1)


def bare_loop(data):
    def run():
        for batch in data:
            process(None, batch)

    return run


def lightning_noop_us(L, iterations: int) -> float:
    class NoOp(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False  # nothing to optimize

        def training_step(self, batch, batch_idx):
            return None

        def configure_optimizers(self):
            return None

    data = list(range(iterations))
    return peers.lightning_seconds_per_batch(L, NoOp, data) * 1e6


def measure(
    iterations: int = 50_000, repeats: int = 9, with_lightning=True
) -> list[Row]:
    data = list(range(iterations))
    engines = {"generated": generated("engine")}
    version = peers.ignite_version()
    if version:
        import ignite.engine

        engines[f"ignite {version}"] = ignite.engine
    runners = {"bare": bare_loop(data)}
    for label, module in engines.items():
        for handlers in (False, True):
            runners[label, handlers] = engine_runner(module, data, handlers)
    times = interleaved(runners, repeats, clock=time.process_time)
    bare_us = sorted(times["bare"])[repeats // 2] / iterations * 1e6

    rows = [Row("engine overhead", "bare for loop", bare_us, "µs/iter", "the baseline")]
    overhead = {
        key: paired_overhead(times, key, "bare") / iterations * 1e6
        for key in runners
        if key != "bare"
    }
    ignite_label = next((label for label in engines if label != "generated"), None)
    for (label, handlers), extra in overhead.items():
        case = f"{label}, {'5 handlers (2 every=)' if handlers else '0 handlers'}"
        if label == "generated":
            note, goal = "", f"≤ {GOALS_US[handlers]} µs"
            met = extra <= GOALS_US[handlers]
            if ignite_label:
                share = extra / overhead[ignite_label, handlers]
                note, goal = f"{share:.2f}x ignite's", f"{goal}, ≤ 1/3 ignite's"
                met = met and share <= IGNITE_SHARE
            rows.append(Row("engine overhead", case, extra, "µs/iter", note, goal, met))
        else:
            rows.append(Row("engine overhead", case, extra, "µs/iter"))
    L = peers.lightning() if with_lightning else None
    if L is not None:
        us = lightning_noop_us(L, min(iterations, 4000)) - bare_us
        rows.append(
            Row(
                "engine overhead",
                f"lightning {L.__version__}, no-op step",
                us,
                "µs/iter",
                "fit() slope, start-up excluded",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-lightning", action="store_true")
    args = parser.parse_args()
    from bench.run import print_table

    print_table(measure(args.iterations, args.repeats, not args.no_lightning))


if __name__ == "__main__":
    main()
