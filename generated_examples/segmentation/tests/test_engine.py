"""The Engine: event order, filters, handlers, stopping, pausing, errors, resuming."""

import random
from enum import Enum

import pytest

from mytrainer.engine import Engine, EventEnum, Events, FilteredEvent, State


def echo(engine, batch):
    return batch


def recorder(engine, events):
    """Attach a handler to each of ``events`` that logs (event name, iteration)."""
    log = []
    for event in events:
        engine.add_event_handler(
            event,
            lambda engine, name: log.append((name, engine.state.iteration)),
            event.name,
        )
    return log


def names(log):
    return [name for name, _ in log]


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


RUN_EVENTS = [
    Events.STARTED,
    Events.EPOCH_STARTED,
    Events.GET_BATCH_STARTED,
    Events.DATALOADER_STOP_ITERATION,
    Events.GET_BATCH_COMPLETED,
    Events.ITERATION_STARTED,
    Events.ITERATION_COMPLETED,
    Events.EPOCH_COMPLETED,
    Events.TERMINATE,
    Events.INTERRUPT,
    Events.COMPLETED,
]
PER_ITERATION = [
    "GET_BATCH_STARTED",
    "GET_BATCH_COMPLETED",
    "ITERATION_STARTED",
    "ITERATION_COMPLETED",
]


def test_events_fire_in_order():
    engine = Engine(echo)
    log = recorder(engine, RUN_EVENTS)
    state = engine.run([10, 20], max_epochs=2)
    first = ["EPOCH_STARTED", *PER_ITERATION, *PER_ITERATION, "EPOCH_COMPLETED"]
    # The data iterator lives across epochs: epoch 2 finds it used up, starts it again.
    second = [*first[:2], "DATALOADER_STOP_ITERATION", *first[2:]]
    assert names(log) == ["STARTED", *first, *second, "COMPLETED"]
    assert (state.iteration, state.epoch, state.output, state.batch) == (4, 2, 20, 20)
    assert state is engine.state and state.dataloader == [10, 20]
    assert engine.last_event_name == Events.COMPLETED


@pytest.mark.parametrize(
    "event, expected",
    [
        (Events.ITERATION_COMPLETED(every=3), [3, 6, 9]),
        (Events.ITERATION_COMPLETED(once=4), [4]),
        (Events.ITERATION_COMPLETED(once=[2, 5]), [2, 5]),
        (Events.ITERATION_COMPLETED(before=3), [1, 2]),
        (Events.ITERATION_COMPLETED(after=8), [9, 10]),
        (Events.ITERATION_COMPLETED(after=2, before=5), [3, 4]),
        (Events.ITERATION_COMPLETED(every=3, after=2, before=10), [3, 6, 9]),
        (
            Events.ITERATION_STARTED(
                event_filter=lambda engine, count: count in (1, 7)
            ),
            [1, 7],
        ),
        (Events.GET_BATCH_STARTED(every=5), [0, 5]),  # before iteration counts it
        (Events.EPOCH_COMPLETED(every=2), [4, 8]),
        (Events.STARTED | Events.EPOCH_COMPLETED(every=2), [0, 4, 8]),
        (Events.COMPLETED(once=5), [10]),  # STARTED and COMPLETED count epochs
    ],
)
def test_filters_select_occurrences(event, expected):
    engine = Engine(echo)
    seen = []
    engine.add_event_handler(event, lambda engine: seen.append(engine.state.iteration))
    engine.run(range(2), max_epochs=5)
    assert seen == expected


def test_events_without_a_counter_count_how_often_they_fired():
    engine = Engine(echo)
    stops = []
    engine.add_event_handler(
        Events.TERMINATE(every=2), lambda engine: stops.append(engine.state.epoch)
    )
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: engine.terminate())
    for _ in range(4):
        engine.run([1], max_epochs=4)
    assert stops == [2, 4]  # the second and the fourth time TERMINATE fired


@pytest.mark.parametrize(
    "condition",
    [
        {},
        {"every": 0},
        {"once": [1, -1]},
        {"once": []},
        {"every": 2, "once": 3},
        {"often": 2},
        {"event_filter": 3},
    ],
)
def test_bad_filters_are_rejected(condition):
    with pytest.raises((TypeError, ValueError), match="expected"):
        Events.ITERATION_COMPLETED(**condition)


def test_custom_events_as_in_ignite():
    class BackpropEvents(EventEnum):
        BACKWARD = "backward"
        OPTIMIZER_STEP = "optimizer_step"

    def step(engine, batch):
        engine.fire_event(BackpropEvents.BACKWARD)
        if engine.state.iteration % 2 == 0:  # accumulates two batches a step
            engine.state.optimizer_steps += 1
            engine.fire_event(BackpropEvents.OPTIMIZER_STEP)

    engine = Engine(step)
    engine.register_events(
        *BackpropEvents,
        event_to_attr={BackpropEvents.OPTIMIZER_STEP: "optimizer_steps"},
    )
    assert engine.state.optimizer_steps == 0
    seen = []
    engine.add_event_handler(
        BackpropEvents.BACKWARD(once=3), lambda engine: seen.append("third backward")
    )
    engine.add_event_handler(
        BackpropEvents.OPTIMIZER_STEP(every=2),
        lambda engine: seen.append(f"step {engine.state.optimizer_steps}"),
    )
    engine.run(range(8))
    assert seen == ["third backward", "step 2", "step 4"]
    with pytest.raises(ValueError, match="register_events"):
        engine.fire_event("unknown")
    with pytest.raises(ValueError, match="register_events"):
        engine.add_event_handler("unknown", print)
    with pytest.raises(ValueError, match="expected a new event"):
        engine.register_events("started")


def test_custom_events_from_a_plain_enum_or_a_string():
    class Phase(Enum):
        WARMUP_DONE = "warmup_done"

    def step(engine, batch):
        engine.fire_event("optimizer_step")
        if engine.state.iteration == 2:
            engine.fire_event(Phase.WARMUP_DONE)

    engine = Engine(step)
    engine.register_events(Phase.WARMUP_DONE, "optimizer_step")
    seen = []
    engine.add_event_handler(Phase.WARMUP_DONE, lambda: seen.append("warm"))
    engine.add_event_handler(
        FilteredEvent("optimizer_step", every=2), lambda: seen.append("step")
    )
    engine.run(range(4))
    assert seen == ["step", "warm", "step"]


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
    assert engine.has_event_handler(count, Events.ITERATION_COMPLETED(every=2))
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

    @engine.on(Events.COMPLETED, "with engine", tag="!")
    def with_engine(engine, label, tag):
        seen.append((type(engine).__name__, label + tag))

    @engine.on(Events.COMPLETED)
    def without_engine():
        seen.append("without engine")

    @engine.on(Events.COMPLETED, 2)
    def engine_first(first, second):  # ignite tries the engine first: it fits
        seen.append((type(first).__name__, second))

    @engine.on(Events.COMPLETED, 1, 2)
    def arguments_only(first, second):
        seen.append((first, second))

    @engine.on(Events.COMPLETED, "early ignite")
    def early_ignite(engine, state, label):
        seen.append((type(state).__name__, label))

    @engine.on(Events.COMPLETED)
    def either(engine, state=None):  # both forms fit: ignite's wins
        seen.append(("either", state))

    engine.run([1])
    assert seen == [
        ("Engine", "with engine!"),
        "without engine",
        ("Engine", 2),
        (1, 2),
        ("State", "early ignite"),
        ("either", None),
    ]

    def log(a, b, c):
        pass

    def log_more(a, b, c, d):
        pass

    with pytest.raises(TypeError) as error:
        engine.add_event_handler(Events.ITERATION_COMPLETED, log)
    assert str(error.value) == (
        "handler log(a, b, c) cannot be called for Events.ITERATION_COMPLETED: "
        "expected handler(engine, *args), handler(*args) or "
        "handler(engine, state, *args) with args=()"
    )
    with pytest.raises(TypeError, match=r"handler\(engine, exception, \*args\)"):
        engine.add_event_handler(Events.EXCEPTION_RAISED, log_more)


def test_epoch_length_for_iterators_and_short_data():
    engine = Engine(echo)
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: seen.append(engine.state.output)
    )
    engine.run(iter(range(6)), max_epochs=2, epoch_length=3)
    assert seen == [0, 1, 2, 3, 4, 5]
    seen.clear()
    # Without a len() or an epoch_length, the first pass measures the epoch.
    assert Engine(echo).run(iter(range(4)), max_epochs=2).epoch_length == 4
    log = recorder(engine, [Events.DATALOADER_STOP_ITERATION])
    engine.run([1, 2, 3], epoch_length=5)  # shorter data starts over within the epoch
    assert seen == [1, 2, 3, 1, 2] and log == [("DATALOADER_STOP_ITERATION", 3)]


def test_an_iterator_that_runs_out_ends_its_epochs_early():
    engine = Engine(echo)
    log = recorder(engine, [Events.EPOCH_COMPLETED, Events.COMPLETED])
    with pytest.warns(UserWarning, match="data ran out in epoch 2"):
        state = engine.run(iter(range(3)), max_epochs=3, epoch_length=2)
    assert log == [
        ("EPOCH_COMPLETED", 2),
        ("EPOCH_COMPLETED", 3),  # epoch 2 got one batch,
        ("EPOCH_COMPLETED", 3),  # epoch 3 none
        ("COMPLETED", 3),
    ]
    assert (state.iteration, state.epoch) == (3, 3)


def test_run_without_data():
    batches = []

    def make_batch(engine, batch):
        batches.append(batch)
        return engine.state.iteration * 10

    engine = Engine(make_batch)
    log = recorder(engine, RUN_EVENTS)
    state = engine.run(None, max_epochs=2, epoch_length=3)
    assert batches == [None] * 6 and state.output == 60
    assert "GET_BATCH_STARTED" not in names(log)
    assert names(log).count("ITERATION_COMPLETED") == 6
    with pytest.raises(ValueError, match="expected epoch_length"):
        Engine(make_batch).run(None)


@pytest.mark.parametrize(
    "max_iters, expected_events, epochs",
    [
        (2, ["ITERATION_COMPLETED", "TERMINATE", "COMPLETED"], 1),
        (3, ["ITERATION_COMPLETED", "EPOCH_COMPLETED", "COMPLETED"], 1),
        (7, ["ITERATION_COMPLETED", "TERMINATE", "COMPLETED"], 3),
    ],
)
def test_max_iters(max_iters, expected_events, epochs):
    engine = Engine(echo)
    log = recorder(
        engine,
        [
            Events.ITERATION_COMPLETED,
            Events.EPOCH_COMPLETED,
            Events.TERMINATE,
            Events.COMPLETED,
        ],
    )
    state = engine.run([1, 2, 3], max_iters=max_iters)
    assert names(log)[-len(expected_events) :] == expected_events
    assert (state.iteration, state.epoch) == (max_iters, epochs)
    assert (state.max_iters, state.max_epochs) == (max_iters, None)
    assert engine.state_dict() == {
        "iteration": max_iters,
        "epoch_length": 3,
        "max_iters": max_iters,
    }
    with pytest.raises(ValueError, match="max_epochs or max_iters"):
        engine.run([1, 2, 3], max_epochs=1, max_iters=1)


class _Stream:
    """Iterable without a len(): each iter() is a fresh pass of ``size`` batches."""

    def __init__(self, size):
        self.size = size

    def __iter__(self):
        return iter(range(self.size))


def test_max_iters_over_data_without_len_sets_max_epochs_once_measured():
    engine = Engine(echo)
    state = engine.run(iter(range(100)), max_iters=5)
    assert (state.iteration, state.max_epochs, state.epoch_length) == (5, None, None)
    state = Engine(echo).run(_Stream(4), max_iters=10)
    assert (state.iteration, state.epoch, state.epoch_length) == (10, 3, 4)
    assert state.max_epochs == 3  # ceil(10 / 4), as ignite sets it


def test_set_data_switches_the_data_mid_run():
    engine = Engine(echo)
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: seen.append(engine.state.output)
    )
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=3), lambda engine: engine.set_data("ab")
    )
    state = engine.run([1, 2, 3, 4], max_epochs=2)
    assert seen == [1, 2, 3, "a", "b", "a", "b", "a"]  # epoch_length stays 4
    assert state.dataloader == "ab"


@pytest.mark.parametrize(
    "stop_at, skip_completed, expected",
    [
        (2, False, ["ITERATION_COMPLETED", "TERMINATE", "COMPLETED"]),
        (3, False, ["ITERATION_COMPLETED", "TERMINATE", "COMPLETED"]),
        (2, True, ["ITERATION_COMPLETED", "TERMINATE"]),
    ],
)
def test_terminate(stop_at, skip_completed, expected):
    engine = Engine(echo)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=stop_at),
        lambda engine: engine.terminate(skip_completed=skip_completed),
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
    assert names(log[stop_at - 1 :]) == expected
    assert state.iteration == stop_at and engine.should_terminate


def test_run_after_terminate_goes_on_from_the_next_epoch():
    engine = Engine(echo)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=4), lambda engine: engine.terminate()
    )
    first = run_recording(engine, [1, 2, 3], max_epochs=3)
    assert first == [1, 2, 3, 1] and engine.state.epoch == 2
    second = run_recording(engine, [1, 2, 3], max_epochs=None)
    assert second == [1, 2, 3]  # epoch 3, from a fresh pass over the data
    assert (engine.state.iteration, engine.state.epoch) == (7, 3)
    assert not engine.should_terminate


@pytest.mark.parametrize(
    "skip, expected",
    [
        (False, ["TERMINATE_SINGLE_EPOCH 2", "EPOCH_COMPLETED 2", "EPOCH_STARTED 2"]),
        (True, ["TERMINATE_SINGLE_EPOCH 2", "EPOCH_STARTED 2"]),
    ],
)
def test_terminate_epoch(skip, expected):
    engine = Engine(echo)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=2),
        lambda engine: engine.terminate_epoch(skip_epoch_completed=skip),
    )
    log = []
    engine.add_event_handler(
        Events.TERMINATE_SINGLE_EPOCH,
        lambda engine, iter_counter: log.append(
            f"TERMINATE_SINGLE_EPOCH {iter_counter}"
        ),
    )
    for event in (Events.EPOCH_STARTED, Events.EPOCH_COMPLETED):
        engine.add_event_handler(
            event,
            lambda engine, name: log.append(f"{name} {engine.state.iteration}"),
            event.name,
        )
    batches = run_recording(engine, [1, 2, 3], max_epochs=2)
    assert log[1 : 1 + len(expected)] == expected
    assert batches == [1, 2, 1, 2, 3]  # the next epoch starts the data afresh
    engine.add_event_handler(Events.STARTED, lambda engine: engine.terminate_epoch())
    with pytest.raises(RuntimeError, match="terminate_epoch"):
        engine.run([1])


def logged_engine():
    """An Engine that logs every event of a run, and the batches it processes."""
    engine = Engine(echo)
    log = recorder(engine, RUN_EVENTS)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda engine: log.append(("batch", engine.state.output)),
    )
    return engine, log


@pytest.mark.parametrize(
    "event, runs",
    [
        (Events.STARTED, 2),
        (Events.EPOCH_STARTED(once=2), 2),
        (Events.GET_BATCH_COMPLETED(once=3), 2),
        (Events.ITERATION_STARTED(once=4), 2),
        (Events.DATALOADER_STOP_ITERATION, 2),
        (Events.EPOCH_COMPLETED(once=1), 2),
        (Events.ITERATION_COMPLETED(every=2), 4),
    ],
)
def test_interrupt_pauses_and_run_carries_on(event, runs):
    engine, uninterrupted = logged_engine()
    engine.run(ShuffledRange(3, seed=1), max_epochs=2)

    engine, log = logged_engine()
    engine.add_event_handler(event, lambda engine: engine.interrupt())
    for _ in range(runs):
        state = engine.run(ShuffledRange(3, seed=1), max_epochs=2)
    assert state.iteration == 6 and log[-1] == ("COMPLETED", 6)
    assert names(log).count("INTERRUPT") == runs - 1
    assert names(log).count("STARTED") == 1  # a paused run is not started again
    assert [entry for entry in log if entry[0] != "INTERRUPT"] == uninterrupted


def test_exceptions_go_to_handlers_or_propagate():
    def fail_on_two(engine, batch):
        if batch == 2:
            raise RuntimeError("bad batch")
        return batch

    with pytest.raises(RuntimeError, match="bad batch"):
        Engine(fail_on_two).run([1, 2, 3])
    engine = Engine(fail_on_two)
    caught = []
    engine.add_event_handler(
        Events.EXCEPTION_RAISED, lambda engine, exc: caught.append(str(exc))
    )
    log = recorder(engine, [Events.EPOCH_COMPLETED, Events.COMPLETED])
    engine.run([1, 2, 3], max_epochs=2)
    # As in ignite, a handled exception ends its epoch and the run goes on.
    assert caught == ["bad batch", "bad batch"]
    assert log == [("EPOCH_COMPLETED", 2), ("EPOCH_COMPLETED", 5), ("COMPLETED", 5)]

    @engine.on(Events.EPOCH_STARTED(once=1))
    def fail(engine):
        raise ValueError("in a handler")

    engine.run([1, 3])
    assert caught[-1] == "in a handler" and log[-1] == ("COMPLETED", 5)


def run_recording(engine, data, max_epochs):
    seen = []

    def record(engine):
        seen.append(engine.state.output)

    with engine.add_event_handler(Events.ITERATION_COMPLETED, record):
        engine.run(data, max_epochs=max_epochs)
    return seen


@pytest.mark.parametrize("epoch_length", [5, 3, 7])
def test_resuming_mid_epoch_sees_the_same_batches(epoch_length):
    def run(engine):
        seen = []
        engine.add_event_handler(
            Events.ITERATION_COMPLETED, lambda engine: seen.append(engine.state.output)
        )
        engine.run(ShuffledRange(5, seed=3), max_epochs=3, epoch_length=epoch_length)
        return seen

    uninterrupted = run(Engine(echo))
    assert len(uninterrupted) == 3 * epoch_length
    assert sorted(uninterrupted[:5]) == list(range(5))  # a pass is a permutation

    first = Engine(echo)
    first.add_event_handler(
        Events.ITERATION_COMPLETED(once=7), lambda engine: engine.terminate()
    )
    before = run(first)
    checkpoint = first.state_dict()
    assert checkpoint == {
        "iteration": 7,
        "epoch_length": epoch_length,
        "max_epochs": 3,
    }

    second = Engine(echo)  # a fresh process: only the checkpoint survives
    second.load_state_dict(checkpoint)
    after = run(second)
    assert before + after == uninterrupted
    assert second.state.iteration == 3 * epoch_length


def test_state_dict_saves_user_keys_and_takes_an_epoch():
    engine = Engine(echo)
    engine.state_dict_user_keys.append("best_loss")

    @engine.on(Events.STARTED)
    def start(engine):
        engine.state.best_loss = 9.0

    engine.run([1, 2], max_epochs=2)
    checkpoint = engine.state_dict()
    assert checkpoint["best_loss"] == 9.0 and checkpoint["iteration"] == 4

    restored = Engine(echo)
    restored.state_dict_user_keys.append("best_loss")
    with pytest.raises(ValueError, match="expected keys"):
        restored.load_state_dict({"iteration": 1, "epoch_length": 2, "max_epochs": 3})
    restored.load_state_dict({**checkpoint, "best_loss": 0.5, "max_epochs": 3})
    assert (restored.state.best_loss, restored.state.epoch) == (0.5, 2)
    restored.load_state_dict(
        {"epoch": 1, "epoch_length": 2, "max_epochs": 3, "best_loss": 0.1}
    )
    assert (restored.state.iteration, restored.state.epoch) == (2, 1)


def test_run_again_extends_or_starts_over():
    engine = Engine(echo)
    assert run_recording(engine, [1, 2], max_epochs=2) == [1, 2, 1, 2]
    assert run_recording(engine, [1, 2], max_epochs=3) == [1, 2]  # one more epoch
    assert engine.state.iteration == 6
    assert run_recording(engine, [1, 2], max_epochs=None) == [1, 2]  # finished: anew
    assert (engine.state.iteration, engine.state.max_epochs) == (2, 1)
    with pytest.raises(ValueError, match="expected keys"):
        engine.load_state_dict({"iteration": 1})


def test_state_times_the_last_epoch_and_the_run():
    engine = Engine(echo)
    seen = []
    engine.add_event_handler(
        Events.EPOCH_COMPLETED | Events.COMPLETED,
        lambda engine: seen.append(dict(engine.state.times)),
    )
    state = engine.run([1, 2], max_epochs=2)
    assert set(state.times) == {"EPOCH_COMPLETED", "COMPLETED"}
    assert all(seconds >= 0.0 for entry in seen for seconds in entry.values())
    assert seen[0]["COMPLETED"] == 0.0 and seen[-1]["COMPLETED"] > 0.0
    assert state.times["COMPLETED"] >= state.times["EPOCH_COMPLETED"]


def test_state_takes_extra_attributes():
    state = State(best_accuracy=0.5)
    assert (state.best_accuracy, state.iteration, state.metrics) == (0.5, 0, {})
    assert state.times == {"EPOCH_COMPLETED": None, "COMPLETED": None}
