"""The training loop: an Engine feeds batches to a process function and fires Events.

Everything besides the step (logging, evaluation, checkpoints) is a handler on an
event, as in pytorch-ignite 0.5, whose Engine this one follows. A run fires::

    STARTED
        EPOCH_STARTED                                   once per epoch
            GET_BATCH_STARTED                           once per iteration
                DATALOADER_STOP_ITERATION               data ran out: iter(data) again
            GET_BATCH_COMPLETED, ITERATION_STARTED, ITERATION_COMPLETED
        EPOCH_COMPLETED
    COMPLETED

terminate() ends the run with TERMINATE, then COMPLETED; terminate_epoch() ends
the epoch with TERMINATE_SINGLE_EPOCH, then EPOCH_COMPLETED; interrupt() pauses
the run with INTERRUPT until the next run(). Exceptions go to the handlers of
EXCEPTION_RAISED, or propagate when it has none.
"""

import math
import time
import warnings
from enum import Enum

from .events import (
    EVENT_TO_ATTR,
    Events,
    FilteredEvent,
    Registration,
    State,
    as_list,
    checked_callable,
    checked_int,
    filtered_call,
    handler_caller,
    unfiltered,
)


class RemovableHandle:
    """Returned by add_event_handler: ``handle.remove()`` takes the handler off,
    and so does leaving ``with engine.add_event_handler(...):``."""

    def __init__(self, engine, registrations):
        self._engine = engine
        self._registrations = registrations  # [(event, Registration)]

    def remove(self):
        handlers = self._engine._handlers
        for event, registration in self._registrations:
            handlers[event] = tuple(r for r in handlers[event] if r is not registration)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


class _StopRun(Exception):
    """terminate() or max_iters is ending the run."""


class _StopEpoch(Exception):
    """terminate_epoch() is ending the epoch."""


class Engine:
    """Runs ``process_function(engine, batch)`` over data, firing Events.

    Besides ``state``, handlers may read ``last_event_name`` and what was asked
    of the run: ``should_terminate`` (True, or "skip_completed"),
    ``should_terminate_single_epoch`` (True, or "skip_epoch_completed") and
    ``should_interrupt``. List in ``state_dict_user_keys`` the State attributes
    that state_dict() should save besides the counters.
    """

    def __init__(self, process_function):
        self._process_function = checked_callable("process_function", process_function)
        self.state = State()
        self.last_event_name = None
        self.should_terminate = self.should_terminate_single_epoch = False
        self.should_interrupt = False
        self.state_dict_user_keys = []
        # Per event a tuple of Registrations; tuples are replaced, never changed,
        # so a handler may remove itself while its event fires.
        self._handlers = {event: () for event in Events}
        self._event_to_attr = dict(EVENT_TO_ATTR)
        self._data_iterator = None  # lives across epochs; renewed when it runs out
        self._paused_run = None  # the rest of a run that interrupt() paused
        # As in ignite, a run that terminate() (here also: an exception) stopped
        # goes on from the next epoch; any other resumes exactly where it was.
        self._stopped_early = False

    def register_events(self, *event_names, event_to_attr=None):
        """Allow your own events (EventEnum members or strings) for handlers and
        fire_event(). ``event_to_attr`` maps an event to the State attribute its
        filters count; that attribute starts at 0 and your code increases it."""
        for event in event_names:
            if not isinstance(event, (str, Enum)) or event in tuple(Events):
                raise ValueError(f"expected a new event name or Enum, got {event!r}")
            self._handlers.setdefault(event, ())
        for event, attribute in (event_to_attr or {}).items():
            self._event_to_attr[event] = attribute
            if not hasattr(self.state, attribute):
                setattr(self.state, attribute, 0)

    def fire_event(self, event):
        """Call the handlers of ``event`` (usually one of your own) now."""
        self._check_known(event)
        self._call_handlers(event)

    def add_event_handler(self, event_name, handler, *args, **kwargs):
        """Call ``handler`` whenever ``event_name`` (maybe filtered, or a ``|`` of
        events) fires; returns a RemovableHandle. As in ignite, it is called as
        ``handler(engine, *event_args, *args, **kwargs)`` if its signature allows,
        else without the engine; EVENT_ARGS says which events have event_args."""
        registrations = []
        for event in as_list(event_name):
            event_filter = None
            if isinstance(event, FilteredEvent):
                event, event_filter = event.event, event.filter
            self._check_known(event)
            call = handler_caller(handler, event, args, kwargs)
            if event_filter is not None:
                call = filtered_call(call, event_filter, self._event_to_attr.get(event))
            registration = Registration(handler, call)
            self._handlers[event] += (registration,)
            registrations.append((event, registration))
        return RemovableHandle(self, registrations)

    def on(self, event_name, *args, **kwargs):
        """Decorator form of add_event_handler: ``@engine.on(Events.STARTED)``."""

        def decorator(handler):
            self.add_event_handler(event_name, handler, *args, **kwargs)
            return handler

        return decorator

    def has_event_handler(self, handler, event_name=None):
        """Whether ``handler`` is attached to ``event_name`` (to any event if None)."""
        events = self._handlers if event_name is None else [unfiltered(event_name)]
        # `in` compares with ==: each access to a method makes a new bound method.
        return handler in [r.handler for e in events for r in self._handlers.get(e, ())]

    def remove_event_handler(self, handler, event_name):
        """Detach ``handler`` from ``event_name`` (all its filters)."""
        if not self.has_event_handler(handler, event_name):
            raise ValueError(f"expected a handler of {event_name!r}, got {handler!r}")
        event = unfiltered(event_name)
        kept = [r for r in self._handlers[event] if r.handler != handler]
        self._handlers[event] = tuple(kept)

    def _check_known(self, event):
        if event not in self._handlers:
            raise ValueError(
                "expected an Events member or an event added with "
                f"register_events(), got {event!r}"
            )

    def _call_handlers(self, event, *event_args):
        self.last_event_name = event
        for registration in self._handlers[event]:
            registration.call(self, *event_args)

    def _fire(self, event):
        """Call the handlers of ``event``, then do what they asked for: raise to end
        the run or the epoch, or return True to pause the run (interrupt())."""
        self.last_event_name = event
        for registration in self._handlers[event]:
            registration.call(self)
        if self.should_terminate:
            raise _StopRun
        if self.should_terminate_single_epoch:
            raise _StopEpoch
        return self.should_interrupt and self._pause()

    def _pause(self):
        """Fire INTERRUPT and return True: the run is to pause."""
        self._call_handlers(Events.INTERRUPT)
        self.should_interrupt = False
        return True

    def terminate(self, skip_completed=False):
        """End the run once the current event's handlers return: TERMINATE, then
        COMPLETED unless skip_completed. A later run() starts the next epoch."""
        self.should_terminate = "skip_completed" if skip_completed else True

    def terminate_epoch(self, skip_epoch_completed=False):
        """End the epoch once the current event's handlers return (not on STARTED or
        EPOCH_STARTED): TERMINATE_SINGLE_EPOCH, then EPOCH_COMPLETED unless
        skip_epoch_completed. The next epoch starts the data afresh."""
        skip = "skip_epoch_completed" if skip_epoch_completed else True
        self.should_terminate_single_epoch = skip

    def interrupt(self):
        """Pause the run once the current event's handlers return; the next run()
        carries on from there, with the same data iterator."""
        self.should_interrupt = True

    def set_data(self, data):
        """Take the next batches from ``data``; epoch_length stays as it is."""
        self.state.dataloader = data
        self._data_iterator = self._start_pass(self.state.epoch)

    def state_dict(self):
        """What resuming needs, and the state_dict_user_keys attributes."""
        limit = "max_epochs" if self.state.max_iters is None else "max_iters"
        keys = ["iteration", "epoch_length", limit, *self.state_dict_user_keys]
        return {key: getattr(self.state, key) for key in keys}

    def load_state_dict(self, state_dict):
        """Restore a state_dict(); the next run() goes on exactly from it. As in
        ignite, "epoch" may stand in for "iteration" (resuming after that epoch)."""
        keys, required = set(state_dict), {"epoch_length", *self.state_dict_user_keys}
        limits, counters = {"max_epochs", "max_iters"}, {"iteration", "epoch"}
        if required - keys or not limits & keys or not counters & keys:
            raise ValueError(
                f"expected keys {sorted(required)}, iteration or epoch, and "
                f"max_epochs or max_iters, got {sorted(keys)}"
            )
        state = self.state
        state.epoch_length = state_dict["epoch_length"]
        state.iteration = state_dict.get("iteration")
        if state.iteration is None:
            state.iteration = state_dict["epoch"] * state.epoch_length
        state.epoch = state.iteration // state.epoch_length
        state.max_epochs = state_dict.get("max_epochs")
        state.max_iters = state_dict.get("max_iters")
        for key in self.state_dict_user_keys:
            setattr(state, key, state_dict[key])
        self._paused_run = self._data_iterator = None
        self._stopped_early = False

    def run(self, data=None, max_epochs=None, max_iters=None, epoch_length=None):
        """Run over ``data`` (any iterable of batches) and return the State.

        A new run lasts max_epochs epochs (default 1) or max_iters iterations, of
        epoch_length iterations (default len(data); without one, the first pass
        over the data measures it). With data=None, process_function gets None
        as its batch. One iterator of the data lives across epochs: when it runs
        out, DATALOADER_STOP_ITERATION fires and iter(data) starts again, after
        ``data.set_epoch(state.epoch)`` if data has that method.

        A state with iterations left resumes instead, e.g. after terminate(),
        load_state_dict() (with the very batches an uninterrupted run would see,
        if data has a len()) or when given a larger max_epochs or max_iters;
        after interrupt(), the run carries on exactly where it paused.
        """
        state = self.state
        if max_epochs is not None and max_iters is not None:
            raise ValueError("expected max_epochs or max_iters, got both")
        if _length(data) == 0:
            raise ValueError(f"expected data with batches, got {data!r}")
        # As in ignite, the limits given apply before it is decided whether the run
        # resumes: a larger one extends a finished run.
        for name, value in [("max_epochs", max_epochs), ("max_iters", max_iters)]:
            if value is not None:
                setattr(state, name, checked_int(name, value, 1))
        if epoch_length is not None:
            checked_int("epoch_length", epoch_length, 1)
        if self._paused_run is None and not self._iterations_left():  # start over
            state.iteration = state.epoch = 0
            state.max_epochs = (max_epochs or 1) if max_iters is None else None
            state.max_iters = max_iters
            state.epoch_length = epoch_length or _length(data) or state.epoch_length
        elif state.epoch_length is None:  # its first pass over the data was cut short
            state.epoch_length = epoch_length or _length(data)
        elif epoch_length not in (None, state.epoch_length):
            expected = f"epoch_length={state.epoch_length}"
            raise ValueError(f"expected {expected} to resume, got {epoch_length}")
        if data is None and state.epoch_length is None:
            raise ValueError("expected epoch_length when data is None, got None")

        if self._paused_run is None:
            state.dataloader = data
            run = self._run(starts_new_epoch=self._stopped_early)
        else:
            run, self._paused_run = self._paused_run, None
        for _pause in run:  # the run yields when it pauses: keep the rest for later
            self._paused_run = run
            break
        return state

    def _iterations_left(self):
        """Whether the state has iterations left to run (a new State has none)."""
        state = self.state
        if state.max_iters is not None:
            return state.iteration < state.max_iters
        if state.max_epochs is None or state.epoch >= state.max_epochs:
            return False
        return state.iteration < state.max_epochs * (state.epoch_length or math.inf)

    def _run(self, starts_new_epoch):
        """The run, as a generator that yields where interrupt() pauses it."""
        state = self.state
        self.should_terminate = self.should_terminate_single_epoch = False
        self.should_interrupt = self._stopped_early = False
        # Iterations already run of the first epoch: > 0 when resuming mid-epoch.
        iterations_in_epoch = 0 if starts_new_epoch else state.iteration
        if state.epoch_length:
            iterations_in_epoch %= state.epoch_length
        state.times = {"EPOCH_COMPLETED": 0.0, "COMPLETED": 0.0}
        run_started = time.perf_counter()
        try:
            try:
                if self._fire(Events.STARTED):
                    yield
                while self._iterations_left() and not self.should_terminate:
                    state.epoch += 1
                    epoch_started = time.perf_counter()
                    if self._fire(Events.EPOCH_STARTED):
                        yield
                    if self._data_iterator is None and state.dataloader is not None:
                        self._data_iterator = self._first_pass(starts_new_epoch)
                    yield from self._run_epoch(iterations_in_epoch)
                    iterations_in_epoch = 0
                    seconds = time.perf_counter() - epoch_started
                    state.times["EPOCH_COMPLETED"] = seconds
                    if self.should_terminate_single_epoch != "skip_epoch_completed":
                        self._call_handlers(Events.EPOCH_COMPLETED)
                    self.should_terminate_single_epoch = False
                    if self.should_terminate:
                        raise _StopRun
                    if self.should_interrupt and self._pause():
                        yield
            except _StopRun:
                self._stopped_early = True
                self._call_handlers(Events.TERMINATE)
            except _StopEpoch:
                raise RuntimeError(
                    "expected terminate_epoch() during an epoch's iterations, "
                    "got it on STARTED or EPOCH_STARTED"
                ) from None
            state.times["COMPLETED"] = time.perf_counter() - run_started
            if self.should_terminate != "skip_completed":
                self._call_handlers(Events.COMPLETED)
        except GeneratorExit:  # a paused run that is never resumed
            raise
        except BaseException as exception:
            self._data_iterator, self._stopped_early = None, True
            self._handle_exception(exception)
        self._data_iterator = None

    def _run_epoch(self, iterations_in_epoch):
        """One epoch's iterations. An exception that EXCEPTION_RAISED handlers take
        ends the epoch, and the run goes on (as in ignite)."""
        state = self.state
        try:
            while (yield from self._fetch_batch(iterations_in_epoch)):
                iterations_in_epoch += 1
                state.iteration += 1
                if self._fire(Events.ITERATION_STARTED):
                    yield
                state.output = self._process_function(self, state.batch)
                if self._fire(Events.ITERATION_COMPLETED):
                    yield
                if iterations_in_epoch == state.epoch_length:
                    break
                if state.iteration == state.max_iters:
                    self.should_terminate = True
                    raise _StopRun
        except _StopEpoch:
            self._call_handlers(Events.TERMINATE_SINGLE_EPOCH, iterations_in_epoch)
            if state.dataloader is not None:  # the next epoch starts the data afresh
                self._data_iterator = self._start_pass(state.epoch + 1)
        except _StopRun:
            raise
        except Exception as exception:
            self._handle_exception(exception)

    def _fetch_batch(self, iterations_in_epoch):
        """Put the next batch in state.batch, or return False to end the epoch early:
        the first pass over data without a len() ended (now epoch_length), or the
        data gives nothing even when started again."""
        state = self.state
        state.batch = None
        if state.dataloader is None:  # run(None, ...): no data, no GET_BATCH_* events
            return True
        if self._fire(Events.GET_BATCH_STARTED):
            yield
        batch = next(self._data_iterator, _DATA_RAN_OUT)
        if batch is _DATA_RAN_OUT and state.epoch_length is None:
            state.epoch_length = iterations_in_epoch
            if state.max_iters is not None:
                state.max_epochs = math.ceil(state.max_iters / iterations_in_epoch)
            return False
        if batch is _DATA_RAN_OUT:
            if self._fire(Events.DATALOADER_STOP_ITERATION):
                yield
            self._data_iterator = self._start_pass(state.epoch)
            batch = next(self._data_iterator, _DATA_RAN_OUT)
        if batch is _DATA_RAN_OUT:
            if self._iterations_left():
                message = f"data ran out in epoch {state.epoch}; ending it early"
                warnings.warn(message, stacklevel=2)
            return False
        state.batch, state.output = batch, None
        if self._fire(Events.GET_BATCH_COMPLETED):
            yield
        return True

    def _start_pass(self, epoch):
        """iter(data), after data.set_epoch(epoch) if data has that method."""
        data = self.state.dataloader
        if hasattr(data, "set_epoch"):
            data.set_epoch(epoch)
        return iter(data)

    def _first_pass(self, starts_new_epoch):
        """The run's first iter(data): unless it starts a new epoch, where an
        uninterrupted run would be at state.iteration. For data with a len(),
        that is after set_epoch() with the epoch in which the current pass
        began, and past the batches that pass has given."""
        state = self.state
        length = _length(state.dataloader)
        used = state.iteration % length if length and not starts_new_epoch else 0
        pass_began_in = (state.iteration - used) // (state.epoch_length or 1) + 1
        batches = self._start_pass(state.epoch if starts_new_epoch else pass_began_in)
        for _ in range(used):
            next(batches, None)
        return batches

    def _handle_exception(self, exception):
        if not self._handlers[Events.EXCEPTION_RAISED]:
            raise exception
        self._call_handlers(Events.EXCEPTION_RAISED, exception)


_DATA_RAN_OUT = object()


def _length(data):
    """len(data), or None for data without one (iterators, iterable datasets)."""
    try:
        return len(data)
    except TypeError:
        return None
