"""The training loop: an Engine feeds batches to a process function and fires Events.

Everything besides the step (logging, evaluation, checkpoints, early stopping)
is a handler on an event, e.g. ``@trainer.on(Events.EPOCH_COMPLETED(every=2))``.
A run fires, in this order::

    STARTED
        EPOCH_STARTED                                   once per epoch
            GET_BATCH_STARTED, GET_BATCH_COMPLETED,     once per iteration
            ITERATION_STARTED, ITERATION_COMPLETED
        EPOCH_COMPLETED
    COMPLETED

An exception ends the run with EXCEPTION_RAISED instead, or propagates when
nothing handles that event.
"""

import inspect
import operator
import sys
import warnings
from collections import Counter
from enum import Enum


class Events(str, Enum):
    """The points of a run where handlers are called. Filter a member by calling
    it (``Events.ITERATION_COMPLETED(every=100)``, see FilteredEvent); join events
    with ``|`` to give them one handler."""

    STARTED = "started"  # run() begins, also when it resumes a stopped run
    EPOCH_STARTED = "epoch_started"  # state.epoch was just increased
    GET_BATCH_STARTED = "get_batch_started"  # state.iteration counts the new batch
    GET_BATCH_COMPLETED = "get_batch_completed"  # state.batch holds it
    ITERATION_STARTED = "iteration_started"  # process_function is about to run
    ITERATION_COMPLETED = "iteration_completed"  # state.output holds its result
    EPOCH_COMPLETED = "epoch_completed"  # the epoch ran all its batches
    COMPLETED = "completed"  # run() ends normally or after terminate()
    EXCEPTION_RAISED = "exception_raised"  # handlers get (engine, exception)
    TERMINATE = "terminate"  # terminate() stopped the run; COMPLETED follows

    def __call__(self, **condition):
        return FilteredEvent(self, **condition)

    def __or__(self, other):
        return EventsList(self, other)


_COUNTED_BY = {
    Events.GET_BATCH_STARTED: "iteration",
    Events.GET_BATCH_COMPLETED: "iteration",
    Events.ITERATION_STARTED: "iteration",
    Events.ITERATION_COMPLETED: "iteration",
    Events.EPOCH_STARTED: "epoch",
    Events.EPOCH_COMPLETED: "epoch",
}
_CONDITIONS = {"every", "once", "before", "after", "event_filter"}
_RESUME_KEYS = ("iteration", "epoch", "epoch_length", "max_epochs")


class FilteredEvent:
    """An event whose handlers run only on the occurrences a condition selects.

    The occurrence count is state.iteration for GET_BATCH_* and ITERATION_*,
    state.epoch for EPOCH_*, and for other events how many times they have
    fired on the engine. Give one condition (before and after may combine):

    ====================  ==========================================
    every=n               count is a multiple of n
    once=n or once=[...]  count is n (or one of the list)
    before=n, after=m     count < n and/or count > m
    event_filter=f        f(engine, count) is true
    ====================  ==========================================

    For your own events write ``FilteredEvent("my_event", every=2)``.
    """

    def __init__(self, event, **condition):
        kinds = condition.keys()
        single = len(kinds) == 1 or kinds == {"before", "after"}
        if not (single and kinds <= _CONDITIONS):
            raise TypeError(
                "expected one of every=, once=, before=/after= or event_filter=, "
                f"got {condition or 'none'}"
            )
        self.event = event
        if "every" in kinds:
            every = _checked_int("every", condition["every"], minimum=1)
            self.selects = lambda engine, count: count % every == 0
        elif "once" in kinds:
            counts = _as_list(condition["once"])
            once = {_checked_int("once", n, minimum=1) for n in counts}
            self.selects = lambda engine, count: count in once
        elif "event_filter" in kinds:
            self.selects = _checked_callable("event_filter", condition["event_filter"])
        else:
            after = _checked_int("after", condition.get("after", 0))
            before = _checked_int("before", condition.get("before", sys.maxsize))
            self.selects = lambda engine, count: after < count < before
        # allowed(engine) is what firing asks, once per filtered handler; every=
        # on iterations is the common case, so it gets one call instead of two.
        selects, attribute = self.selects, _COUNTED_BY.get(event)
        if attribute is None:
            self.allowed = lambda engine: selects(engine, engine._fired[event])
        elif "every" in kinds:
            count = operator.attrgetter(f"state.{attribute}")
            self.allowed = lambda engine: count(engine) % every == 0
        else:
            self.allowed = lambda e: selects(e, getattr(e.state, attribute))

    def __or__(self, other):
        return EventsList(self, other)


class EventsList(tuple):
    """Events joined with ``|``; a handler added for it is added to each one."""

    def __new__(cls, *events):
        return super().__new__(cls, [e for event in events for e in _as_list(event)])

    def __or__(self, other):
        return EventsList(self, other)


class State:
    """Where a run is; handlers read it (and may add their own attributes).

    ============  ==========================================================
    iteration     iterations run so far, over all epochs (resumes continue it)
    epoch         the current epoch, from 1; 0 before the first one
    max_epochs    how many epochs the run lasts
    epoch_length  iterations per epoch; len(data) unless run() was given one
    batch         the batch being processed
    output        what process_function returned for it (the trainer's loss)
    metrics       results that evaluation handlers store by name
    dataloader    the data passed to run()
    ============  ==========================================================

    Keyword arguments become extra attributes: ``State(best_accuracy=0.0)``.
    """

    def __init__(self, **kwargs):
        self.iteration = 0
        self.epoch = 0
        self.max_epochs = None
        self.epoch_length = None
        self.batch = None
        self.output = None
        self.metrics = {}
        self.dataloader = None
        self.__dict__.update(kwargs)


class RemovableHandle:
    """Returned by add_event_handler: ``handle.remove()`` takes the handler off,
    and so does leaving ``with engine.add_event_handler(...):``."""

    def __init__(self, engine, registrations):
        self._engine = engine
        self._registrations = registrations  # [(event, entry)]

    def remove(self):
        handlers = self._engine._handlers
        for event, entry in self._registrations:
            handlers[event] = tuple(e for e in handlers[event] if e is not entry)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


class Engine:
    """Runs ``process_function(engine, batch)`` over data, firing Events. Handlers
    are called as ``handler(engine, *args, **kwargs)``, or, if their signature
    asks for it, ``handler(engine, engine.state, *args, **kwargs)``."""

    def __init__(self, process_function):
        self._process_function = _checked_callable("process_function", process_function)
        self.state = State()
        # Per event a tuple of (handler, call, allowed) entries; tuples are replaced,
        # never changed, so a handler may remove itself while its event fires.
        self._handlers = {event: () for event in Events}
        self._fired = Counter()
        self._should_terminate = self._should_terminate_epoch = False

    def register_events(self, *events):
        """Allow custom events (names or Enum members) for handlers and fire_event()."""
        for event in events:
            if not isinstance(event, (str, Enum)) or event in tuple(Events):
                raise ValueError(f"expected a new event name or Enum, got {event!r}")
            self._handlers.setdefault(event, ())

    def fire_event(self, event):
        """Call the handlers of ``event`` (usually one of your own) now."""
        self._check_known(event)
        self._fire(event)

    def add_event_handler(self, event, handler, *args, **kwargs):
        """Call ``handler`` whenever ``event`` (maybe filtered, or a ``|`` of events)
        fires; returns a RemovableHandle."""
        registrations = []
        for one in _as_list(event):
            allowed = None
            if isinstance(one, FilteredEvent):
                one, allowed = one.event, one.allowed
            self._check_known(one)
            entry = (handler, _caller(handler, one, args, kwargs), allowed)
            self._handlers[one] += (entry,)
            registrations.append((one, entry))
        return RemovableHandle(self, registrations)

    def on(self, event, *args, **kwargs):
        """Decorator form of add_event_handler: ``@engine.on(Events.STARTED)``."""

        def decorator(handler):
            self.add_event_handler(event, handler, *args, **kwargs)
            return handler

        return decorator

    def has_event_handler(self, handler, event=None):
        """Whether ``handler`` is attached to ``event`` (to any event if None)."""
        events = self._handlers if event is None else [_unfiltered(event)]
        # == rather than `is`: each access to a method makes a new bound method.
        return any(e[0] == handler for ev in events for e in self._handlers.get(ev, ()))

    def remove_event_handler(self, handler, event):
        """Detach ``handler`` from ``event`` (all its filters)."""
        if not self.has_event_handler(handler, event):
            raise ValueError(f"expected a handler of {event!r}, got {handler!r}")
        event = _unfiltered(event)
        kept = [entry for entry in self._handlers[event] if entry[0] != handler]
        self._handlers[event] = tuple(kept)

    def _check_known(self, event):
        if event not in self._handlers:
            raise ValueError(
                "expected an Events member or an event added with "
                f"register_events(), got {event!r}"
            )

    def _fire(self, event, *event_args):
        if event not in _COUNTED_BY:  # the others' filters read a State attribute
            self._fired[event] += 1
        for _, call, allowed in self._handlers[event]:
            if allowed is not None and not allowed(self):
                continue
            if event_args:
                call(self, *event_args)
            else:
                call(self)  # the usual case; packing arguments costs more than the call

    def terminate(self):
        """Stop the run after the current iteration; a later run() resumes it."""
        self._should_terminate = True

    def terminate_epoch(self):
        """End the epoch after the current iteration (resuming assumes whole epochs)."""
        self._should_terminate_epoch = True

    def state_dict(self):
        """What resuming needs; save it with the model and optimizer."""
        return {key: getattr(self.state, key) for key in _RESUME_KEYS}

    def load_state_dict(self, state_dict):
        """Restore a state_dict(); the next run() continues from it."""
        if sorted(state_dict) != sorted(_RESUME_KEYS):
            raise ValueError(f"expected keys {_RESUME_KEYS}, got {tuple(state_dict)}")
        self.state.__dict__.update(state_dict)

    def run(self, data, max_epochs=None, epoch_length=None):
        """Run over ``data`` (any iterable of batches) and return the State.

        Each epoch takes epoch_length batches (default len(data)) from a fresh
        ``iter(data)``, after ``data.set_epoch(epoch)`` if it exists. A state with
        iterations left before max_epochs resumes (after terminate(), an error,
        load_state_dict() or with a larger max_epochs); else the run starts over.
        """
        state = self.state
        for name, value in (("max_epochs", max_epochs), ("epoch_length", epoch_length)):
            if value is not None:
                _checked_int(name, value, minimum=1)
        target = max_epochs or state.max_epochs
        if target and state.iteration < target * (state.epoch_length or 0):
            if epoch_length not in (None, state.epoch_length):
                expected = f"epoch_length={state.epoch_length}"
                raise ValueError(f"expected {expected} to resume, got {epoch_length}")
        else:
            if epoch_length is None and not hasattr(data, "__len__"):
                raise ValueError(
                    "expected epoch_length for data without len(), "
                    f"got {type(data).__name__} and epoch_length=None"
                )
            state.iteration = 0
            epoch_length = epoch_length or len(data)
            state.epoch_length = _checked_int("len(data)", epoch_length, minimum=1)
            target = max_epochs or 1
        state.max_epochs = target
        state.dataloader = data
        self._should_terminate = self._should_terminate_epoch = False
        # Whole epochs done and batches used of the next: 0, 0 unless resuming.
        state.epoch, skip = divmod(state.iteration, state.epoch_length)
        try:
            self._fire(Events.STARTED)
            while state.epoch < state.max_epochs and not self._should_terminate:
                state.epoch += 1
                self._should_terminate_epoch = False
                self._fire(Events.EPOCH_STARTED)
                if not self._should_terminate and self._run_epoch(data, skip):
                    self._fire(Events.EPOCH_COMPLETED)
                skip = 0
            if self._should_terminate:
                self._fire(Events.TERMINATE)
            self._fire(Events.COMPLETED)
        except Exception as exception:
            if not self._handlers[Events.EXCEPTION_RAISED]:
                raise
            self._fire(Events.EXCEPTION_RAISED, exception)
        return state

    def _run_epoch(self, data, skip):
        """Run one epoch's iterations; returns whether the epoch ran to its end."""
        state = self.state
        process = self._process_function
        # The hot loop: an event without handlers costs one lookup. Events.X is
        # slow to look up, hence the local names.
        handlers = self._handlers
        get_batch_started = Events.GET_BATCH_STARTED
        get_batch_completed = Events.GET_BATCH_COMPLETED
        iteration_started = Events.ITERATION_STARTED
        iteration_completed = Events.ITERATION_COMPLETED

        if hasattr(data, "set_epoch"):
            data.set_epoch(state.epoch)
        batches = _restarting(data)
        for _ in range(skip):
            next(batches, None)  # running out is noticed below
        for done in range(skip + 1, state.epoch_length + 1):
            state.iteration += 1
            if handlers[get_batch_started]:
                self._fire(get_batch_started)
            try:
                state.batch = next(batches)
            except StopIteration:
                state.iteration -= 1
                warnings.warn(f"data ran out in epoch {state.epoch}; terminating")
                self._should_terminate = True
                return False
            if handlers[get_batch_completed]:
                self._fire(get_batch_completed)
            if handlers[iteration_started]:
                self._fire(iteration_started)
            state.output = process(self, state.batch)
            if handlers[iteration_completed]:
                self._fire(iteration_completed)
            if self._should_terminate or self._should_terminate_epoch:
                return self._should_terminate_epoch or done == state.epoch_length
        return True


def _restarting(data):
    """Yield the batches of iter(data), starting it again whenever it runs out,
    until a fresh start yields nothing (an exhausted iterator or empty data)."""
    while True:
        empty = True
        for batch in data:
            empty = False
            yield batch
        if empty:
            return


def _caller(handler, event, args, kwargs):
    """Return ``call(engine, *event_args)`` running ``handler`` with its arguments,
    as handler(engine, ...) if that fits, else as handler(engine, state, ...)."""
    event_args = ("exception",) if event == Events.EXCEPTION_RAISED else ()
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # some builtins have none; trust them
        signature = None
    if signature is None or _binds(signature, 1 + len(event_args), args, kwargs):
        if not args and not kwargs:
            return handler
        return lambda engine, *event_args: handler(engine, *event_args, *args, **kwargs)
    if _binds(signature, 2 + len(event_args), args, kwargs):
        return lambda engine, *event_args: handler(
            engine, engine.state, *event_args, *args, **kwargs
        )
    name = getattr(handler, "__name__", repr(handler))
    shown = repr(event)
    if isinstance(event, Enum):
        shown = f"{type(event).__name__}.{event.name}"
    modern = ", ".join(("engine", *event_args, "*args"))
    legacy = ", ".join(("engine", "state", *event_args, "*args"))
    given = f"args={args!r}" + (f", kwargs={kwargs!r}" if kwargs else "")
    raise TypeError(
        f"handler {name}{signature} cannot be called for {shown}: "
        f"expected handler({modern}) or handler({legacy}) with {given}"
    )


def _binds(signature, leading, args, kwargs):
    try:
        signature.bind(*(None,) * leading, *args, **kwargs)
        return True
    except TypeError:
        return False


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _unfiltered(event):
    return event.event if isinstance(event, FilteredEvent) else event


def _checked_callable(name, value):
    if not callable(value):
        raise TypeError(f"expected {name} to be callable, got {value!r}")
    return value


def _checked_int(name, value, minimum=0):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"expected {name} to be an int >= {minimum}, got {value!r}")
    return value
