"""Early stopping: end training when a validation score stops improving."""


class EarlyStopping:
    """Terminate the trainer after `patience` epochs without improvement.

    After each validation, epoch_completed(engine, record) reads record[score_name].
    A score improves when it beats the best so far by more than `min_delta`: higher
    with mode="max", lower with "min". A resumed run replays the records of the
    epochs it has behind it through update(record), so it stops at the same epoch
    as an uninterrupted one.
    """

    def __init__(self, patience, score_name, min_delta=0.0, mode="max"):
        if patience < 1:
            raise ValueError(f"expected patience >= 1, got {patience}")
        if mode not in ("max", "min"):
            raise ValueError(f"expected mode 'max' or 'min', got {mode!r}")
        self.patience = patience
        self.score_name = score_name
        self.min_delta = min_delta
        self.sign = 1.0 if mode == "max" else -1.0
        self.best = None  # the best score so far, times sign
        self.epochs_without_improvement = 0

    def update(self, record):
        """Take one epoch's record; return whether patience has run out."""
        score = self.sign * float(record[self.score_name])
        if self.best is None or score > self.best + self.min_delta:
            self.best = score
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience

    def epoch_completed(self, engine, record):
        if self.update(record):
            print(
                f"early stopping at epoch {engine.state.epoch}: no improvement "
                f"in {self.score_name} for {self.patience} epoch(s)"
            )
            engine.terminate()
