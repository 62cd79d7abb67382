"""Checkpoints: exact resume, what is kept, and what a damaged file does."""

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mytrainer.engine import Events, State, create_supervised_trainer
from mytrainer.handlers import AccumulatedGradients, Checkpointer, RandomStates
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
