"""Early stopping on score sequences worked out by hand."""

import pytest

from mytrainer.engine import Engine, Events
from mytrainer.handlers import EarlyStopping


@pytest.mark.parametrize(
    "mode, scores, stop_epoch",
    [
        ("max", [0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.7, 0.7, 0.9], 8),
        ("min", [1.0, 0.9, 0.95, 0.897, 0.9, 0.5, 0.4], 5),  # 0.897: under min_delta
    ],
)
def test_early_stopping_terminates_after_patience_epochs_without_improvement(
    mode, scores, stop_epoch
):
    trainer = Engine(lambda engine, batch: None)
    stopper = EarlyStopping(3, "score", min_delta=0.005, mode=mode)
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED,
        lambda engine: stopper.epoch_completed(
            engine, {"score": scores[engine.state.epoch - 1]}
        ),
    )

    state = trainer.run([0], max_epochs=len(scores))

    assert state.epoch == stop_epoch


def test_replaying_earlier_epochs_restores_the_count_of_epochs_without_improvement():
    scores = [0.5, 0.6, 0.6, 0.59]
    uninterrupted = EarlyStopping(2, "accuracy")
    verdicts = [uninterrupted.update({"accuracy": score}) for score in scores]

    resumed = EarlyStopping(2, "accuracy")
    for score in scores[:3]:
        resumed.update({"accuracy": score})

    assert resumed.update({"accuracy": scores[3]}) == verdicts[3] is True
    assert resumed.epochs_without_improvement == 2
