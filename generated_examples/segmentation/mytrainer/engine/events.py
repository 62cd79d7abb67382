"""Events, their filters, the State they count in, and how handlers are called.

``Events.X(every=n)``, ``once=``, ``before=``/``after=`` and ``event_filter=`` pick
the occurrences a handler runs on; ``Events.A | Events.B`` registers one handler
for several events. Your own events subclass EventEnum.
"""

import inspect
import math
from collections.abc import Callable
from enum import Enum
from typing import NamedTuple


class EventEnum(str, Enum):
    """Base of Events and of your own: ``class MyEvents(EventEnum): X = "x"``, then
    ``engine.register_events(*MyEvents)``. Calling a member filters it, as in
    ``Events.ITERATION_COMPLETED(every=100)`` (see FilteredEvent); ``|`` joins
    events to give them one handler."""

    def __call__(self, **condition):
        return FilteredEvent(self, **condition)

    def __or__(self, other):
        return EventsList(self, other)


class Events(EventEnum):
    """The points of a run where the Engine calls handlers."""

    STARTED = "started"  # run() begins, also when it resumes a stopped run
    EPOCH_STARTED = "epoch_started"  # state.epoch was just increased
    GET_BATCH_STARTED = "get_batch_started"  # the next batch is about to be fetched
    GET_BATCH_COMPLETED = "get_batch_completed"  # state.batch holds it
    DATALOADER_STOP_ITERATION = "dataloader_stop_iteration"  # data ran out mid-epoch
    ITERATION_STARTED = "iteration_started"  # state.iteration counts the new batch
    ITERATION_COMPLETED = "iteration_completed"  # state.output holds the step's result
    EPOCH_COMPLETED = "epoch_completed"  # the epoch ran its iterations, or was ended
    COMPLETED = "completed"  # the run ended, normally or by terminate()
    EXCEPTION_RAISED = "exception_raised"  # handlers get (engine, exception)
    TERMINATE = "terminate"  # terminate() or max_iters is ending the run
    TERMINATE_SINGLE_EPOCH = "terminate_single_epoch"  # (engine, iter_counter)
    INTERRUPT = "interrupt"  # interrupt() is pausing the run


# The State attribute that filters count, per event (register_events() adds more).
EVENT_TO_ATTR = {
    Events.GET_BATCH_STARTED: "iteration",
    Events.GET_BATCH_COMPLETED: "iteration",
    Events.ITERATION_STARTED: "iteration",
    Events.ITERATION_COMPLETED: "iteration",
    Events.EPOCH_STARTED: "epoch",
    Events.EPOCH_COMPLETED: "epoch",
    Events.STARTED: "epoch",
    Events.COMPLETED: "epoch",
}
# What handlers get after the engine; iter_counter: the iterations the epoch ran.
EVENT_ARGS = {
    Events.EXCEPTION_RAISED: ("exception",),
    Events.TERMINATE_SINGLE_EPOCH: ("iter_counter",),
}


def every_event_filter(every):
    """Selects the counts that are multiples of ``every``."""
    return lambda engine, count: count % every == 0


def once_event_filter(once):
    """Selects the counts in ``once``, a set of ints."""
    return lambda engine, count: count in once


def before_and_after_event_filter(before=None, after=None, every=1):
    """Selects the counts strictly between ``after`` and ``before``: the first of
    them, then every ``every``-th."""
    before, after = math.inf if before is None else before, after or 0

    def selects(engine, count):
        return after < count < before and (count - after - 1) % every == 0

    return selects


class FilteredEvent:
    """An event whose handlers run only on the occurrences a filter selects.

    The filter gets ``(engine, count)``. The count is state.iteration for
    GET_BATCH_* and ITERATION_*, state.epoch for EPOCH_*, STARTED and COMPLETED,
    for your events the State attribute given to register_events(event_to_attr=);
    other events count how often they fired since the handler was added.

    ========================  ================================================
    every=n                   count is a multiple of n
    once=n or once=[n, ...]   count is n (or one of the list)
    before=n and/or after=m   m < count < n; with every=k, every k-th of those
    event_filter=f            f(engine, count) is true
    ========================  ================================================

    For an event named by a string: ``FilteredEvent("my_event", every=2)``.
    """

    def __init__(self, event, event_filter=None, once=None, every=None, **bounds):
        ranged = every is not None or bounds
        kinds = [event_filter is not None, once is not None, bool(ranged)]
        if sum(kinds) != 1 or not {"before", "after"}.issuperset(bounds):
            raise ValueError(
                "expected one of event_filter=, once= or every=/before=/after=, got "
                f"{event_filter=}, {once=}, {every=}, {bounds}"
            )
        self.event = event
        if event_filter is not None:
            self.filter = checked_callable("event_filter", event_filter)
        elif once is not None:
            counts = once if isinstance(once, (list, tuple, set)) else [once]
            if not counts:
                raise ValueError(f"expected once to list counts, got {once!r}")
            self.filter = once_event_filter({checked_int("once", n, 1) for n in counts})
        elif not bounds:
            self.filter = every_event_filter(checked_int("every", every, 1))
        else:
            for name, value in bounds.items():
                checked_int(name, value)
            every = 1 if every is None else checked_int("every", every, 1)
            self.filter = before_and_after_event_filter(**bounds, every=every)

    def __or__(self, other):
        return EventsList(self, other)


class EventsList(tuple):
    """Events joined with ``|``; a handler added for it is added to each one."""

    def __new__(cls, *events):
        return super().__new__(cls, [e for event in events for e in as_list(event)])

    def __or__(self, other):
        return EventsList(self, other)


class State:
    """Where a run is; handlers read it (and may add their own attributes).

    ============  ==========================================================
    iteration     iterations run so far, over all epochs (resumes continue it)
    epoch         the current epoch, from 1; 0 before the first one
    max_epochs    how many epochs the run lasts (None if run() got max_iters)
    max_iters     how many iterations the run lasts, if run() got it
    epoch_length  iterations per epoch; len(data) unless run() was given one
    batch         the batch being processed
    output        what process_function returned for it (the trainer's loss)
    metrics       results that evaluation handlers store by name
    dataloader    the data given to run() or set_data()
    times         seconds the last epoch ("EPOCH_COMPLETED") and the run
                  ("COMPLETED") took, set as those events fire
    ============  ==========================================================

    Keyword arguments become extra attributes: ``State(best_accuracy=0.0)``.
    """

    def __init__(self, **kwargs):
        self.iteration = self.epoch = 0
        self.max_epochs = self.max_iters = self.epoch_length = None
        self.batch = self.output = self.dataloader = None
        self.metrics = {}
        self.times = {"EPOCH_COMPLETED": None, "COMPLETED": None}
        self.__dict__.update(kwargs)


class Registration(NamedTuple):
    handler: Callable  # as given to add_event_handler
    call: Callable  # call(engine, *event_args) applies its filter and arguments


def handler_caller(handler, event, args, kwargs):
    """Return ``call(engine, *event_args)`` that runs ``handler`` in the first form
    its signature takes: with the engine first, without the engine, or in the
    early-ignite form with the engine and its state."""
    event_args = EVENT_ARGS.get(event, ())
    # What follows the engine: stand-ins for the event's arguments, then args.
    after_engine = (None,) * len(event_args) + args
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins have none; trust them
        signature = None
    if signature is None or _fits(signature, None, *after_engine, **kwargs):
        if not args and not kwargs:
            return handler
        return lambda engine, *event_args: handler(engine, *event_args, *args, **kwargs)
    if _fits(signature, *after_engine, **kwargs):
        return lambda engine, *event_args: handler(*event_args, *args, **kwargs)
    # ---- Early-ignite compatibility: its one place in this file. ----
    # The seed write-up's example has handlers(engine, state), as ignite's first
    # release called them.
    if _fits(signature, None, None, *after_engine, **kwargs):
        return lambda engine, *event_args: handler(
            engine, engine.state, *event_args, *args, **kwargs
        )
    name = getattr(handler, "__name__", repr(handler))
    event_text = f"Events.{event.name}" if isinstance(event, Events) else repr(event)
    arguments = "".join(f"{argument}, " for argument in event_args) + "*args"
    passed = f"args={args!r}" + (f", kwargs={kwargs!r}" if kwargs else "")
    raise TypeError(
        f"handler {name}{signature} cannot be called for {event_text}: expected "
        f"handler(engine, {arguments}), handler({arguments}) or "
        f"handler(engine, state, {arguments}) with {passed}"
    )


def filtered_call(call, event_filter, attribute):
    """``call``, run only on the occurrences ``event_filter(engine, count)`` selects;
    the count is the State ``attribute``, or (None) how often the event fired."""
    fired = 0

    def filtered_call(engine, *event_args):
        nonlocal fired
        fired += 1
        count = fired if attribute is None else getattr(engine.state, attribute)
        if event_filter(engine, count):
            call(engine, *event_args)

    return filtered_call


def _fits(signature, *args, **kwargs):
    try:
        signature.bind(*args, **kwargs)
        return True
    except TypeError:
        return False


def unfiltered(event):
    return event.event if isinstance(event, FilteredEvent) else event


def as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def checked_callable(name, value):
    if not callable(value):
        raise TypeError(f"expected {name} to be callable, got {value!r}")
    return value


def checked_int(name, value, minimum=0):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"expected {name} to be an int >= {minimum}, got {value!r}")
    return value
