"""A tqdm progress bar per epoch, with the running loss and the throughput."""

import sys

from tqdm import tqdm

from ..engine import Events


class ProgressBar:
    """Shows the trainer's progress through each epoch on stderr.

    The bar reports batches per second and `engine.state.metrics[metric]` (the
    running loss). It stays silent when stderr is not a terminal (a log file, a
    pipe, CI), where redrawn lines would be noise: ask can_draw() first.
    """

    def __init__(self, metric="loss", refresh_every=10):
        self.metric = metric
        self.refresh_every = refresh_every  # iterations between postfix updates
        self.bar = None

    @staticmethod
    def can_draw():
        """Whether stderr is a terminal, the one place a bar is drawn."""
        return sys.stderr.isatty()

    def attach(self, engine):
        engine.add_event_handler(Events.EPOCH_STARTED, self._open)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._advance)
        engine.add_event_handler(Events.EPOCH_COMPLETED | Events.COMPLETED, self._close)

    def _open(self, engine):
        finished = engine.state.iteration % engine.state.epoch_length  # > 0 on resume
        self.bar = tqdm(
            total=engine.state.epoch_length,
            initial=finished,
            desc=f"epoch {engine.state.epoch}/{engine.state.max_epochs}",
            unit="batch",
            leave=False,
            disable=None,  # None: only on a terminal
        )

    def _advance(self, engine):
        self.bar.update(1)
        if engine.state.iteration % self.refresh_every == 0:
            # Reading the loss waits for the device, hence not every iteration.
            loss = float(engine.state.metrics[self.metric])
            self.bar.set_postfix({self.metric: f"{loss:.4f}"}, refresh=False)

    def _close(self, _):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
