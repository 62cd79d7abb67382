"""How much the generated Engine adds per iteration, next to pytorch-ignite's.

Renders a fresh project into a temporary directory, imports its engine and
times a run whose process function returns at once, so only the dispatch is
measured: with no handlers, and with five no-op handlers of which two are
filtered with every=. Each number is the median over several runs, reported in
microseconds per iteration on top of a bare ``for`` loop calling the same
process function. pytorch-ignite is measured the same way when importable.

    python bench/engine_overhead.py [--iterations 50000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scaffold.options import Options
from scaffold.render import render


def load_generated_engine(root: Path):
    files = render(Options(name="benchtrainer"))
    package = root / "benchtrainer"
    package.mkdir()
    # Only the engine is needed; the package's __init__ would pull in torch.
    (package / "__init__.py").write_text("")
    (package / "engine.py").write_text(files["benchtrainer/engine.py"])
    sys.path.insert(0, str(root))
    return importlib.import_module("benchtrainer.engine")


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


def medians(runners: dict, data, repeats: int) -> dict:
    """Median CPU seconds per item of each runner(data).

    The runners take turns, so a burst of load from other processes hits all of
    them alike, and CPU time leaves out the time this process waits for a core.
    """
    times = {key: [] for key in runners}
    for _ in range(repeats):
        for key, run in runners.items():
            start = time.process_time()
            run(data)
            times[key].append((time.process_time() - start) / len(data))
    return {key: statistics.median(values) for key, values in times.items()}


def bare_loop(data):
    for batch in data:
        process(None, batch)


def engine_runner(module, handlers: bool):
    engine = module.Engine(process)
    if handlers:
        add_five_handlers(engine, module.Events)

    def run(data):
        engine.run(data, max_epochs=1)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    data = list(range(args.iterations))

    engines = {}
    with tempfile.TemporaryDirectory() as tmp:
        engines["generated"] = load_generated_engine(Path(tmp))
    try:
        import ignite.engine

        engines[f"ignite {importlib.import_module('ignite').__version__}"] = (
            ignite.engine
        )
    except ImportError:
        print("(pytorch-ignite not installed; measuring the generated engine only)")

    runners = {("bare loop", None): bare_loop}
    for label, module in engines.items():
        for handlers in (False, True):
            runners[label, handlers] = engine_runner(module, handlers)
    seconds = medians(runners, data, args.repeats)
    bare = seconds["bare loop", None]
    rows = [("bare loop", "-", bare, 0.0)]
    overhead = {}
    for (label, handlers), value in seconds.items():
        if handlers is not None:
            overhead[label, handlers] = value - bare
            rows.append(
                (label, "5 (2 every=)" if handlers else "0", value, value - bare)
            )

    ignite_label = next((label for label in engines if label != "generated"), None)
    print(f"{args.iterations} iterations, median CPU time of {args.repeats} runs")
    print(
        f"{'engine':<14}{'handlers':<14}{'µs/iter':>9}{'overhead µs':>13}{'vs ignite':>11}"
    )
    for label, handlers, seconds, extra in rows:
        ratio = ""
        if label == "generated" and ignite_label:
            reference = overhead[ignite_label, handlers != "0"]
            ratio = f"{extra / reference:.2f}x"
        print(
            f"{label:<14}{handlers:<14}{seconds * 1e6:>9.3f}{extra * 1e6:>13.3f}{ratio:>11}"
        )


if __name__ == "__main__":
    main()
