"""Checkpoints: exact resume, what is kept, and what a damaged file does."""

import os
import random
import signal

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mytrainer.engine import Events, State, create_supervised_trainer
from mytrainer.handlers import (
    AccumulatedGradients,
    Checkpointer,
    RandomStates,
    StopOnSignal,
)
from mytrainer.handlers.checkpoint import CheckpointError


def linear_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def batches(count, size):
    generator = torch.Generator().manual_seed(1)
    return [
        (torch.randn(size, 1, 28, 28, generator=generator), torch.arange(size) % 10)
        for _ in range(count)
    ]


def checkpointed_training(tmp_path, **options):
    model = linear_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = create_supervised_trainer(model, optimizer, F.cross_entropy)
    objects = {
        "model": model,
        "optimizer": optimizer,
        "trainer": trainer,
        "gradients": AccumulatedGradients(model),
        "random_states": RandomStates(),
    }
    return trainer, Checkpointer(tmp_path, objects, **options)


def test_checkpoint_resume_continues_to_the_same_weights(tmp_path):
    data = batches(6, 8)
    trainer, checkpointer = checkpointed_training(tmp_path)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=2), checkpointer.save)
    trainer.run(data, max_epochs=2)
    expected = trainer.state_dict(), checkpointer.objects["model"].state_dict()

    resumed, resumer = checkpointed_training(tmp_path)
    path = resumer.resume("last", resumed)
    resumed.run(data, max_epochs=2)

    assert path.name == "checkpoint-00000002.pt"
    assert resumed.state_dict() == expected[0]
    for name, tensor in resumer.objects["model"].state_dict().items():
        assert torch.equal(tensor, expected[1][name]), name


def test_keeps_the_last_n_and_the_best_n(tmp_path):
    trainer, checkpointer = checkpointed_training(tmp_path, keep_last=2, keep_best=2)
    for iteration, score in enumerate([0.5, 0.9, 0.7, 0.8, 0.6], start=1):
        trainer.state = State(iteration=iteration)
        checkpointer.epoch_completed(trainer, {"score": score})

    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [
        "best-00000002-score=0.9.pt",
        "best-00000004-score=0.8.pt",
        "checkpoint-00000004.pt",
        "checkpoint-00000005.pt",
    ]


def test_a_truncated_checkpoint_is_named_and_last_falls_back(tmp_path, capsys):
    trainer, checkpointer = checkpointed_training(tmp_path, keep_last=3)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpointer.save)
    trainer.run(batches(3, 8))
    newest = tmp_path / "checkpoint-00000003.pt"
    newest.write_bytes(newest.read_bytes()[:100])

    with pytest.raises(CheckpointError, match=f"{newest} is not a readable checkpoint"):
        checkpointed_training(tmp_path)[1].resume(newest, trainer)
    resumed, resumer = checkpointed_training(tmp_path)
    assert resumer.resume("last", resumed).name == "checkpoint-00000002.pt"
    assert resumed.state.iteration == 2
    assert "trying the one before" in capsys.readouterr().out


def test_with_mode_min_the_lowest_scores_are_the_best(tmp_path):
    trainer, checkpointer = checkpointed_training(
        tmp_path, keep_last=1, keep_best=2, score_name="nll", mode="min"
    )
    for iteration, loss in enumerate([0.5, 0.2, 0.7, 0.3], start=1):
        trainer.state = State(iteration=iteration)
        checkpointer.epoch_completed(trainer, {"nll": loss})

    assert sorted(path.name for path in checkpointer.files("best")) == [
        "best-00000002-nll=0.2.pt",
        "best-00000004-nll=0.3.pt",
    ]


def test_a_checkpoint_of_another_model_is_refused_with_the_reason(tmp_path):
    trainer, checkpointer = checkpointed_training(tmp_path)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpointer.save)
    trainer.run(batches(1, 8))
    other = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 5))

    with pytest.raises(CheckpointError, match="does not fit this run's model"):
        Checkpointer(tmp_path, {"model": other}).resume(
            checkpointer.files()[-1], trainer
        )


def test_resuming_from_an_earlier_checkpoint_deletes_the_later_ones(tmp_path):
    trainer, checkpointer = checkpointed_training(tmp_path, keep_last=5)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, checkpointer.save)
    trainer.run(batches(3, 8))
    first = tmp_path / "checkpoint-00000001.pt"

    resumed, resumer = checkpointed_training(tmp_path, keep_last=5)
    resumer.resume(first, resumed)

    # The resumed run writes iterations 2 and 3 again, from its own steps.
    assert [path.name for path in resumer.files()] == [first.name]
    assert resumed.state.iteration == 1


def test_random_states_come_back_so_a_resumed_run_draws_the_same_numbers():
    states = RandomStates()
    saved = states.state_dict()
    drawn = torch.rand(3), random.random()

    states.load_state_dict(saved)

    assert torch.equal(torch.rand(3), drawn[0]) and random.random() == drawn[1]


def test_processes_started_after_the_signal_stop_at_their_first_step(
    tmp_path, monkeypatch
):
    # What a round that torchrun restarts after the warning finds: the mark.
    stop_file = tmp_path / ".stop-requested"
    stop_file.touch()
    monkeypatch.setenv("TRAIN_STOP_FILE", str(stop_file))
    trainer, checkpointer = checkpointed_training(tmp_path / "run")
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        StopOnSignal(checkpointer).attach(trainer)
        trainer.run(batches(4, 8), max_epochs=2)
    finally:
        signal.signal(signal.SIGUSR1, previous)

    assert trainer.state.iteration == 1
    assert [path.name for path in checkpointer.files()] == ["checkpoint-00000001.pt"]


@pytest.mark.parametrize("signalled_at", [3, 4, 8])
def test_a_signal_checkpoints_and_stops_after_the_step_it_came_in(
    tmp_path, signalled_at
):
    # 2 epochs of 4 iterations: the 4th ends an epoch, whose end-of-epoch handlers
    # still run; on the 8th, the last, the run ends as it would have anyway.
    trainer, checkpointer = checkpointed_training(tmp_path)
    epochs_completed = []
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED, lambda e: epochs_completed.append(e.state.epoch)
    )
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(once=signalled_at),
        lambda _: os.kill(os.getpid(), signal.SIGUSR1),
    )
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        StopOnSignal(checkpointer).attach(trainer)
        trainer.run(batches(4, 8), max_epochs=2)
    finally:
        signal.signal(signal.SIGUSR1, previous)

    assert trainer.state.iteration == signalled_at
    assert epochs_completed == list(range(1, signalled_at // 4 + 1))
    # Mid-epoch it writes a checkpoint; at an epoch's end the epoch's does.
    saved = [path.name for path in checkpointer.files()]
    mid_epoch = signalled_at % 4 != 0
    assert saved == ([f"checkpoint-{signalled_at:08d}.pt"] if mid_epoch else [])
