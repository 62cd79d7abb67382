"""The Engine: event order, filters, handlers, termination, errors and resuming."""

import random
from enum import Enum

import pytest

from mytrainer.engine import Engine, Events, FilteredEvent, State


def echo(engine, batch):
    return batch


def recorder(engine, events):
    """Attach a handler to each of ``events`` that logs (event, iteration)."""
    log = []
    for event in events:
        engine.add_event_handler(
            event,
            lambda engine, name: log.append((name, engine.state.iteration)),
            event.name,
        )
    return log


class ShuffledRange:
    """Like a loader with a seeded sampler: each epoch is its own permutation."""

    def __init__(self, size, seed=0):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.size

    def __iter__(self):
        order = list(range(self.size))
        random.Random(self.seed * 1000 + self.epoch).shuffle(order)
        return iter(order)


def test_events_fire_in_order():
    engine = Engine(echo)
    log = recorder(
        engine,
        [e for e in Events if e not in (Events.EXCEPTION_RAISED, Events.TERMINATE)],
    )
    state = engine.run([10, 20], max_epochs=2)
    per_iteration = [
        "GET_BATCH_STARTED",
        "GET_BATCH_COMPLETED",
        "ITERATION_STARTED",
        "ITERATION_COMPLETED",
    ]
    epoch = ["EPOCH_STARTED", *per_iteration, *per_iteration, "EPOCH_COMPLETED"]
    assert [name for name, _ in log] == ["STARTED", *epoch, *epoch, "COMPLETED"]
    assert (state.iteration, state.epoch, state.output, state.batch) == (4, 2, 20, 20)
    assert state is engine.state and state.dataloader == [10, 20]


@pytest.mark.parametrize(
    "event, expected",
    [
        (Events.ITERATION_COMPLETED(every=3), [3, 6, 9]),
        (Events.ITERATION_COMPLETED(once=4), [4]),
        (Events.ITERATION_COMPLETED(once=[2, 5]), [2, 5]),
        (Events.ITERATION_COMPLETED(before=3), [1, 2]),
        (Events.ITERATION_COMPLETED(after=8), [9, 10]),
        (Events.ITERATION_COMPLETED(after=2, before=5), [3, 4]),
        (
            Events.ITERATION_STARTED(
                event_filter=lambda engine, count: count in (1, 7)
            ),
            [1, 7],
        ),
        (Events.GET_BATCH_STARTED(every=5), [5, 10]),
        (Events.EPOCH_COMPLETED(every=2), [4, 8]),
        (Events.STARTED | Events.EPOCH_COMPLETED(every=2), [0, 4, 8]),
    ],
)
def test_filters_select_occurrences(event, expected):
    engine = Engine(echo)
    seen = []
    engine.add_event_handler(event, lambda engine: seen.append(engine.state.iteration))
    engine.run(range(2), max_epochs=5)
    assert seen == expected


def test_other_events_count_how_often_they_fired():
    engine = Engine(echo)
    runs = []
    engine.add_event_handler(
        Events.COMPLETED(every=2), lambda engine: runs.append(len(runs))
    )
    for _ in range(4):
        engine.run([1])
    assert runs == [0, 1]  # after the second and the fourth run


@pytest.mark.parametrize(
    "condition",
    [
        {},
        {"every": 0},
        {"once": [1, -1]},
        {"every": 2, "once": 3},
        {"often": 2},
        {"event_filter": 3},
    ],
)
def test_bad_filters_are_rejected(condition):
    with pytest.raises((TypeError, ValueError), match="expected"):
        Events.ITERATION_COMPLETED(**condition)


def test_custom_events():
    class BackpropEvents(Enum):
        BACKWARD = "backward"

    def step(engine, batch):
        engine.fire_event(BackpropEvents.BACKWARD)
        engine.fire_event("optimizer_step")

    engine = Engine(step)
    engine.register_events(*BackpropEvents, "optimizer_step")
    seen = []
    engine.add_event_handler(
        BackpropEvents.BACKWARD, lambda engine: seen.append("backward")
    )
    engine.add_event_handler(
        FilteredEvent("optimizer_step", every=2), lambda engine: seen.append("step")
    )
    engine.run(range(4))
    assert seen == ["backward", "backward", "step", "backward", "backward", "step"]
    with pytest.raises(ValueError, match="register_events"):
        engine.fire_event("unknown")
    with pytest.raises(ValueError, match="register_events"):
        engine.add_event_handler("unknown", print)
    with pytest.raises(ValueError, match="expected a new event"):
        engine.register_events("started")


def test_handlers_are_removed_by_handle_context_manager_or_name():
    engine = Engine(echo)
    calls = []

    def count(engine):
        calls.append(engine.state.iteration)

    handle = engine.add_event_handler(
        Events.ITERATION_COMPLETED | Events.COMPLETED, count
    )
    assert engine.has_event_handler(count) and engine.has_event_handler(
        count, Events.COMPLETED
    )
    handle.remove()
    assert not engine.has_event_handler(count)
    with engine.add_event_handler(Events.ITERATION_COMPLETED, count):
        engine.run([1, 2])
    engine.run([1, 2])
    assert calls == [1, 2]

    engine.on(Events.ITERATION_COMPLETED(every=2))(count)
    engine.remove_event_handler(count, Events.ITERATION_COMPLETED)
    assert not engine.has_event_handler(count, Events.ITERATION_COMPLETED)
    with pytest.raises(ValueError, match="expected a handler of"):
        engine.remove_event_handler(count, Events.ITERATION_COMPLETED)


def test_a_handler_removing_itself_does_not_skip_the_next():
    engine = Engine(echo)
    calls = []
    handle = engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: handle.remove()
    )
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda engine: calls.append(1))
    engine.run([1, 2])
    assert calls == [1, 1]


def test_handler_signatures():
    engine = Engine(echo)
    seen = []

    @engine.on(Events.COMPLETED, "modern", tag="!")
    def modern(engine, label, tag):
        seen.append((type(engine).__name__, label + tag))

    @engine.on(Events.COMPLETED, "legacy")
    def legacy(engine, state, label):
        seen.append((type(state).__name__, label))

    @engine.on(Events.COMPLETED)
    def either(engine, state=None):  # both forms fit: the modern one wins
        seen.append(("either", state))

    engine.run([1])
    assert seen == [("Engine", "modern!"), ("State", "legacy"), ("either", None)]

    def log(a, b, c):
        pass

    with pytest.raises(TypeError) as error:
        engine.add_event_handler(Events.ITERATION_COMPLETED, log)
    assert str(error.value) == (
        "handler log(a, b, c) cannot be called for Events.ITERATION_COMPLETED: "
        "expected handler(engine, *args) or handler(engine, state, *args) with args=()"
    )


def test_epoch_length_for_iterators_and_short_data():
    engine = Engine(echo)
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: seen.append(engine.state.output)
    )
    with pytest.raises(ValueError, match="expected epoch_length"):
        engine.run(iter(range(6)))
    engine.run(iter(range(6)), max_epochs=2, epoch_length=3)
    assert seen == [0, 1, 2, 3, 4, 5]
    seen.clear()
    engine.run([1, 2, 3], epoch_length=5)  # shorter data starts over within the epoch
    assert seen == [1, 2, 3, 1, 2]


def test_an_iterator_that_runs_out_terminates_the_run():
    engine = Engine(echo)
    log = recorder(engine, [Events.EPOCH_COMPLETED, Events.TERMINATE, Events.COMPLETED])
    with pytest.warns(UserWarning, match="data ran out"):
        state = engine.run(iter(range(3)), max_epochs=3, epoch_length=2)
    assert log == [("EPOCH_COMPLETED", 2), ("TERMINATE", 3), ("COMPLETED", 3)]
    assert (state.iteration, state.epoch) == (3, 2)


@pytest.mark.parametrize(
    "stop_at, expected",
    [
        (2, ["ITERATION_COMPLETED", "TERMINATE", "COMPLETED"]),
        (3, ["ITERATION_COMPLETED", "EPOCH_COMPLETED", "TERMINATE", "COMPLETED"]),
    ],
)
def test_terminate(stop_at, expected):
    engine = Engine(echo)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=stop_at), lambda engine: engine.terminate()
    )
    log = recorder(
        engine,
        [
            Events.ITERATION_COMPLETED,
            Events.EPOCH_COMPLETED,
            Events.TERMINATE,
            Events.COMPLETED,
        ],
    )
    state = engine.run([1, 2, 3], max_epochs=2)
    assert [name for name, _ in log[stop_at - 1 :]] == expected
    assert state.iteration == stop_at


def test_terminate_before_an_epoch_then_resume():
    engine = Engine(echo)

    @engine.on(Events.EPOCH_STARTED(once=2))
    def stop(engine):
        engine.remove_event_handler(stop, Events.EPOCH_STARTED)
        engine.terminate()

    assert run_recording(engine, [1, 2], max_epochs=3) == [1, 2]
    assert run_recording(engine, [1, 2], max_epochs=None) == [1, 2, 1, 2]


def test_terminate_epoch():
    engine = Engine(echo)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=2), lambda engine: engine.terminate_epoch()
    )
    log = recorder(
        engine,
        [Events.EPOCH_STARTED, Events.ITERATION_COMPLETED, Events.EPOCH_COMPLETED],
    )
    engine.run([1, 2, 3], max_epochs=2)
    assert log == [
        ("EPOCH_STARTED", 0),
        ("ITERATION_COMPLETED", 1),
        ("ITERATION_COMPLETED", 2),
        ("EPOCH_COMPLETED", 2),
        ("EPOCH_STARTED", 2),
        ("ITERATION_COMPLETED", 3),
        ("ITERATION_COMPLETED", 4),
        ("ITERATION_COMPLETED", 5),
        ("EPOCH_COMPLETED", 5),
    ]


def test_exceptions_go_to_handlers_or_propagate():
    def fail_on_two(engine, batch):
        if batch == 2:
            raise RuntimeError("bad batch")

    with pytest.raises(RuntimeError, match="bad batch"):
        Engine(fail_on_two).run([1, 2, 3])
    engine = Engine(fail_on_two)
    caught = []
    engine.add_event_handler(
        Events.EXCEPTION_RAISED, lambda engine, exc: caught.append(str(exc))
    )
    completed = recorder(engine, [Events.COMPLETED])
    engine.run([1, 2, 3])
    assert caught == ["bad batch"] and completed == []


def run_recording(engine, data, max_epochs):
    seen = []

    def record(engine):
        seen.append(engine.state.output)

    with engine.add_event_handler(Events.ITERATION_COMPLETED, record):
        engine.run(data, max_epochs=max_epochs)
    return seen


def test_resuming_mid_epoch_sees_the_same_batches():
    uninterrupted = run_recording(Engine(echo), ShuffledRange(5, seed=3), max_epochs=3)
    assert (
        sorted(uninterrupted[5:10]) == list(range(5))
        and uninterrupted[:5] != uninterrupted[5:10]
    )

    first = Engine(echo)
    first.add_event_handler(
        Events.ITERATION_COMPLETED(once=7), lambda engine: engine.terminate()
    )
    before = run_recording(first, ShuffledRange(5, seed=3), max_epochs=3)
    checkpoint = first.state_dict()
    assert checkpoint == {
        "iteration": 7,
        "epoch": 2,
        "epoch_length": 5,
        "max_epochs": 3,
    }

    second = Engine(echo)  # a fresh process: only the checkpoint survives
    second.load_state_dict(checkpoint)
    after = run_recording(second, ShuffledRange(5, seed=3), max_epochs=None)
    assert before + after == uninterrupted
    assert (second.state.iteration, second.state.epoch) == (15, 3)

    # The same engine, run again, carries on where it stopped.
    again = run_recording(first, ShuffledRange(5, seed=3), max_epochs=None)
    assert before + again == uninterrupted


def test_run_again_extends_or_starts_over():
    engine = Engine(echo)
    assert run_recording(engine, [1, 2], max_epochs=2) == [1, 2, 1, 2]
    assert run_recording(engine, [1, 2], max_epochs=3) == [1, 2]  # one more epoch
    assert engine.state.iteration == 6
    assert run_recording(engine, [1, 2], max_epochs=None) == [1, 2]  # finished: anew
    assert (engine.state.iteration, engine.state.max_epochs) == (2, 1)
    with pytest.raises(ValueError, match="expected keys"):
        engine.load_state_dict({"iteration": 1})


def test_state_takes_extra_attributes():
    state = State(best_accuracy=0.5)
    assert (state.best_accuracy, state.iteration, state.metrics) == (0.5, 0, {})
