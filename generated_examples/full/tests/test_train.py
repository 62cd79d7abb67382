import torch
import torch.nn.functional as F

from mytrainer.data.loaders import TensorLoader
from mytrainer.engine import create_supervised_evaluator, create_supervised_trainer
from mytrainer.metrics import Metric
from mytrainer.model import Net


def fake_batches(count, size=8):
    generator = torch.Generator().manual_seed(0)
    return [
        (torch.randn(size, 1, 28, 28, generator=generator), torch.arange(size) % 10)
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
