"""What a supervised trainer adds to each training step over a raw PyTorch loop.

Linear 784->10, batch 64, SGD, cross-entropy, batches already in memory: the step
itself is small, so whatever the trainer adds shows. CPU time per step; each
overhead is the median over repeats of (trainer - raw loop) timed back to back.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from bench import peers
from bench.common import Row, generated, interleaved, paired_overhead

GOAL_US = 3.0


def make_batches(steps: int, distinct: int = 100):
    generator = torch.Generator().manual_seed(0)
    pool = [
        (
            torch.randn(64, 784, generator=generator),
            torch.randint(0, 10, (64,), generator=generator),
        )
        for _ in range(distinct)
    ]
    return [pool[i % distinct] for i in range(steps)]


def model_and_optimizer():
    torch.manual_seed(0)
    model = nn.Linear(784, 10)
    return model, torch.optim.SGD(model.parameters(), lr=0.01)


def raw_loop(batches):
    model, optimizer = model_and_optimizer()

    def run():
        model.train()
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()

    return run


def engine_trainer(create, batches):
    trainer = create(*model_and_optimizer(), F.cross_entropy)
    return lambda: trainer.run(batches, max_epochs=1)


def lightning_step_us(L, batches, lean: bool) -> float:
    class Classifier(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.model, self.optimizer = model_and_optimizer()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.model(x), y)

        def configure_optimizers(self):
            return self.optimizer

    return peers.lightning_seconds_per_batch(L, Classifier, batches, lean) * 1e6


def measure(steps: int = 2000, repeats: int = 9, with_lightning=True) -> list[Row]:
    batches = make_batches(steps)
    runners = {
        "raw": raw_loop(batches),
        "generated": engine_trainer(
            generated("engine").create_supervised_trainer, batches
        ),
    }
    version = peers.ignite_version()
    if version:
        from ignite.engine import create_supervised_trainer

        runners[f"ignite {version}"] = engine_trainer(
            create_supervised_trainer, batches
        )
    times = interleaved(runners, repeats, clock=time.process_time)
    raw_us = sorted(times["raw"])[repeats // 2] / steps * 1e6
    figure = "supervised step overhead"
    rows = [Row(figure, "raw PyTorch loop", raw_us, "µs/step", "the baseline")]
    overhead = {
        name: paired_overhead(times, name, "raw") / steps * 1e6
        for name in runners
        if name != "raw"
    }
    for name, extra in overhead.items():
        if name == "generated":
            note = next(
                (
                    f"{extra / value:.2f}x ignite's"
                    for key, value in overhead.items()
                    if key != name
                ),
                "",
            )
            rows.append(
                Row(
                    figure,
                    "generated create_supervised_trainer",
                    extra,
                    "µs/step",
                    note,
                    f"≤ +{GOAL_US} µs",
                    extra <= GOAL_US,
                )
            )
        else:
            rows.append(
                Row(figure, f"{name} create_supervised_trainer", extra, "µs/step")
            )
    L = peers.lightning() if with_lightning else None
    if L is not None:
        for lean in (True, False):
            extra = lightning_step_us(L, batches, lean) - raw_us
            setup = "lean" if lean else "default"
            rows.append(
                Row(
                    figure,
                    f"lightning {L.__version__} ({setup})",
                    extra,
                    "µs/step",
                    "fit() slope, start-up excluded",
                )
            )
    return rows
