import torch
import torch.nn.functional as F

from mytrainer.data.loaders import TensorLoader
from mytrainer.engine import create_supervised_evaluator, create_supervised_trainer
from mytrainer.metrics import Metric
from mytrainer.model import Net


def fake_batches(count, size=8):
    generator = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(size, 1, 28, 28, generator=generator),
            torch.randint(0, 10, (size, 28, 28), generator=generator),
        )
        for _ in range(count)
    ]


def test_one_training_step_changes_the_weights_and_reports_the_loss():
    torch.manual_seed(0)
    model = Net()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = create_supervised_trainer(model, optimizer, F.nll_loss)

    state = trainer.run(fake_batches(1), max_epochs=1)

    assert state.iteration == 1
    assert torch.isfinite(state.output) and state.output > 0
    after = model.parameters()
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


class ModeSeen(Metric):
    """Records whether the model was in training mode at each evaluated batch."""

    accumulators = ()

    def __init__(self, model):
        self.model = model
        super().__init__()

    def reset(self):
        self.modes = []

    def update(self, output):
        self.modes.append(self.model.training)

    def compute(self):
        return self.modes


def test_evaluator_runs_in_eval_mode_and_restores_training_mode():
    model = Net().train()
    evaluator = create_supervised_evaluator(model, metrics={"modes": ModeSeen(model)})

    metrics = evaluator.run(fake_batches(2)).metrics

    assert metrics["modes"] == [False, False]
    assert model.training


def test_tensor_loader_visits_every_sample_once_per_epoch_in_a_seeded_order():
    images, labels = torch.zeros(10, 1, 28, 28), torch.arange(10)
    loader = TensorLoader(images, labels, batch_size=4, shuffle=True, seed=3)

    def epoch_order(epoch):
        loader.set_epoch(epoch)
        return torch.cat([y for _, y in loader]).tolist()

    assert len(loader) == 3
    assert sorted(epoch_order(0)) == list(range(10))
    assert epoch_order(0) == epoch_order(0)
    assert epoch_order(0) != epoch_order(1)


def test_a_training_epoch_never_ends_in_a_batch_of_one():
    images, labels = torch.zeros(9, 1, 28, 28), torch.arange(9)
    training = TensorLoader(images, labels, batch_size=4, shuffle=True)
    validation = TensorLoader(images, labels, batch_size=4)

    # BatchNorm cannot train on one sample: a different one sits out each epoch.
    assert [len(y) for _, y in training] == [4, 4] and len(training) == 2
    left_out = set()
    for epoch in range(4):
        training.set_epoch(epoch)
        left_out |= set(range(9)) - set(torch.cat([y for _, y in training]).tolist())
    assert len(left_out) > 1
    # Evaluation sees every sample.
    assert [len(y) for _, y in validation] == [4, 4, 1]


def test_under_two_processes_both_leave_out_their_lone_last_sample():
    images, labels = torch.zeros(11, 1, 28, 28), torch.arange(11)
    shares = [
        TensorLoader(images, labels, 2, shuffle=True, rank=rank, world_size=2)
        for rank in (0, 1)
    ]

    # 11 samples: one left out for equal shares, then 5 each in batches of 2.
    assert [[len(y) for _, y in share] for share in shares] == [[2, 2], [2, 2]]
