"""Early stopping: end training when a validation score stops improving."""


class EarlyStopping:
    """Terminate the trainer after `patience` evaluations without improvement.

    Call it (attach it to the event where the score is fresh, usually
    Events.EPOCH_COMPLETED after validation). A score improves when it beats the
    best so far by more than `min_delta`: higher with mode="max", lower with "min".
    Its state_dict() goes into checkpoints so that a resumed run stops at the
    same epoch as an uninterrupted one.
    """

    def __init__(self, patience, score_function, min_delta=0.0, mode="max"):
        if patience < 1:
            raise ValueError(f"expected patience >= 1, got {patience}")
        if mode not in ("max", "min"):
            raise ValueError(f"expected mode 'max' or 'min', got {mode!r}")
        self.patience = patience
        self.score_function = score_function
        self.min_delta = min_delta
        self.sign = 1.0 if mode == "max" else -1.0
        self.best = None  # the best score so far, times sign
        self.bad_evaluations = 0

    def __call__(self, engine):
        score = self.sign * float(self.score_function(engine))
        if self.best is None or score > self.best + self.min_delta:
            self.best = score
            self.bad_evaluations = 0
            return
        self.bad_evaluations += 1
        if self.bad_evaluations >= self.patience:
            print(
                f"early stopping at epoch {engine.state.epoch}: no improvement "
                f"for {self.patience} evaluation(s)"
            )
            engine.terminate()

    def state_dict(self):
        return {"best": self.best, "bad_evaluations": self.bad_evaluations}

    def load_state_dict(self, state):
        self.best = state["best"]
        self.bad_evaluations = state["bad_evaluations"]
