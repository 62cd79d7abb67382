"""One Fashion-MNIST training epoch (60,000 images, batch 128), wall time.

For the generated network: its tensor data path through the generated trainer
next to the floor, the same network stepping over batches cut once beforehand.
For ignite's classic MNIST network: the classic recipe (torchvision Dataset +
ToTensor/Normalize + DataLoader with 0 workers, as ignite's and Lightning's MNIST
examples do) next to the same floor and the generated tensor path. Each path
steps one shared model, and the paths take turns every few steps of an epoch, so
that neither the machine's drift nor a model's own numerics lands on one side.
"""

from __future__ import annotations

import itertools
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from bench.common import Row, generated, median

BATCH = 128
GOAL_RATIO = 1.02
# Each path takes this many steps, then hands over to the next.
TURN_STEPS = 10


class ClassicNet(nn.Module):
    """The network of ignite's (and PyTorch's) MNIST example."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.dropout(F.relu(self.fc1(x.flatten(1))), training=self.training)
        return F.log_softmax(self.fc2(x), dim=-1)


def generated_net():
    torch.manual_seed(0)
    # As the train script runs it by default.
    model = generated("model").Net(10).to(memory_format=torch.channels_last)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


def classic_net():
    torch.manual_seed(0)
    model = ClassicNet()
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)


def classic_loader(root):
    dataset = datasets.FashionMNIST(
        root,
        train=True,
        download=False,
        transform=transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))]
        ),
    )
    return DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0)


def taking_turns(
    make, loader, others: dict, repeats: int, clock=time.perf_counter, data="mnist"
):
    """{path: [seconds of each repeat's epoch]} for one model and optimizer, stepped
    by the generated trainer (of the `data` kind's project) over `loader`
    ("generated") and by a raw loop over each of `others` ({name: iterable of
    batches}), the paths taking turns every TURN_STEPS steps of each epoch.

    Sharing the model gives every path the same weights, memory and numerics: a
    floor with a model of its own ran 10% or more faster or slower than the same
    steps on the other model, through its own trajectory and place in memory.
    Taking turns every few steps exposes all paths to the same drift of the
    machine's speed, which here moves whole epochs by up to 50%.
    """
    model, optimizer = make()
    trainer = generated("engine", data).create_supervised_trainer(
        model, optimizer, F.nll_loss
    )
    Events = generated("engine", data).Events
    paths = ["generated", *others]
    spent: dict = {}
    batches: dict = {}
    mark = 0.0

    def raw_steps(name, steps):
        start = clock()
        for x, y in itertools.islice(batches[name], steps):
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
        spent[name] += clock() - start

    @trainer.on(Events.ITERATION_COMPLETED(every=TURN_STEPS))
    def hand_over(engine):
        nonlocal mark
        spent["generated"] += clock() - mark
        for name in others:
            raw_steps(name, TURN_STEPS)
        mark = clock()

    def epoch(length=None):
        nonlocal mark
        spent.update(dict.fromkeys(paths, 0.0))
        batches.update((name, iter(data)) for name, data in others.items())
        mark = clock()
        trainer.run(loader, max_epochs=1, epoch_length=length)
        spent["generated"] += clock() - mark
        for name in others:  # the steps left after the last turn
            raw_steps(name, (length or len(loader)) % TURN_STEPS)
        return dict(spent)

    # Untimed: the first steps of each path set up kernels.
    epoch(min(TURN_STEPS, len(loader)))
    times = {name: [] for name in paths}
    for _ in range(repeats):
        for name, seconds in epoch().items():
            times[name].append(seconds)
    return times


def ratio_note(times, name, base):
    """The median of the per-epoch ratios, with their range."""
    ratios = sorted(a / b for a, b in zip(times[name], times[base]))
    return median(ratios), f"{ratios[0]:.3f}-{ratios[-1]:.3f}"


def measure(root, repeats: int = 3) -> list[Row]:
    train_loader, _ = generated("data.mnist").get_data_loaders(
        "fashion-mnist", root, BATCH, 1000
    )
    # The floor: the very batches the trainer draws (the Engine starts each run at
    # epoch 1 of the loader), cut once before any clock starts.
    train_loader.set_epoch(1)
    prebuilt = list(train_loader)
    samples = len(train_loader.labels)
    generated_net_times = taking_turns(
        generated_net, train_loader, {"floor": prebuilt}, repeats
    )
    classic_times = taking_turns(
        classic_net,
        train_loader,
        {"floor": prebuilt, "classic recipe": classic_loader(root)},
        repeats,
    )

    def row(times, name, case, note="", goal="", met=None):
        seconds = median(times[name])
        rate = f"{samples / seconds:,.0f} samples/s"
        return Row(
            "Fashion-MNIST epoch",
            case,
            seconds,
            "s",
            f"{rate}; {note}" if note else rate,
            goal,
            met,
        )

    ratio, spread = ratio_note(generated_net_times, "generated", "floor")
    classic_ratio, classic_spread = ratio_note(classic_times, "generated", "floor")
    faster, _ = ratio_note(classic_times, "classic recipe", "floor")
    faster_generated, _ = ratio_note(classic_times, "classic recipe", "generated")
    turns = f"{repeats} epochs taking turns every {TURN_STEPS} steps"
    return [
        row(
            generated_net_times,
            "floor",
            "generated net: raw loop, prebuilt batches (floor)",
            turns,
        ),
        row(
            generated_net_times,
            "generated",
            "generated net: trainer + TensorLoader",
            f"{ratio:.3f}x floor ({spread})",
            f"≤ {GOAL_RATIO}x floor",
            ratio <= GOAL_RATIO,
        ),
        row(
            classic_times,
            "classic recipe",
            "ignite's net: classic recipe, DataLoader 0 workers",
            turns,
        ),
        row(
            classic_times,
            "floor",
            "ignite's net: raw loop, prebuilt batches (floor)",
            f"{faster:.2f}x faster than classic",
        ),
        row(
            classic_times,
            "generated",
            "ignite's net: trainer + TensorLoader",
            f"{classic_ratio:.3f}x floor ({classic_spread}), "
            f"{faster_generated:.2f}x faster than classic",
            f"≈ floor (≤ {GOAL_RATIO}x)",
            classic_ratio <= GOAL_RATIO,
        ),
    ]
