"""One Fashion-MNIST training epoch (60,000 images, batch 128), wall time.

For the generated network: its tensor data path through the generated trainer
next to the floor, the same network stepping over batches cut once beforehand.
For ignite's classic MNIST network: the classic recipe (torchvision Dataset +
ToTensor/Normalize + DataLoader with 0 workers, as ignite's and Lightning's MNIST
examples do) next to the same floor and the generated tensor path. Whole epochs
are too long to alternate often on a machine whose speed drifts, so the two
ratios to the floor are also taken over short runs that take turns many times.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from bench.common import Row, generated, interleaved, median, paired_ratio

BATCH = 128
GOAL_RATIO = 1.02
SHORT_RUN_STEPS = 40


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


def raw_loop(make, batches):
    model, optimizer = make()

    def run():
        model.train()
        for x, y in batches:
            optimizer.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            optimizer.step()

    return run


def generated_path(make, loader, epoch_length=None):
    model, optimizer = make()
    trainer = generated("supervised").create_supervised_trainer(
        model, optimizer, F.nll_loss
    )
    epochs = iter(range(1, 10**6))

    def run():
        # A fresh trainer state each time, but the loader reshuffles per epoch.
        loader.set_epoch(next(epochs))
        trainer.run(loader, max_epochs=1, epoch_length=epoch_length)

    return run


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


def short_run_ratios(train_loader, prebuilt, repeats=30) -> list[Row]:
    """Each path against its floor over the len(prebuilt) batches of a short run,
    taking turns `repeats` times: a pair runs within two seconds, so the machine's
    speed drifts less between its halves than between two whole epochs."""
    steps = len(prebuilt)
    runners = {
        "floor": raw_loop(generated_net, prebuilt),
        "generated": generated_path(generated_net, train_loader, steps),
        "classic floor": raw_loop(classic_net, prebuilt),
        "classic generated": generated_path(classic_net, train_loader, steps),
    }
    times = interleaved(runners, repeats)
    rows = []
    for net, prefix, goal in (
        ("generated net", "", f"≤ {GOAL_RATIO}x floor"),
        ("ignite's net", "classic ", f"≈ floor (≤ {GOAL_RATIO}x)"),
    ):
        ratios = sorted(
            a / b for a, b in zip(times[prefix + "generated"], times[prefix + "floor"])
        )
        ratio = median(ratios)
        low, high = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
        rows.append(
            Row(
                "Fashion-MNIST epoch",
                f"{net}: trainer + TensorLoader, {steps}-step runs x{repeats}",
                ratio,
                "x floor",
                f"paired median; quartiles {low:.3f}-{high:.3f}",
                goal,
                ratio <= GOAL_RATIO,
            )
        )
    return rows


def measure(root, repeats: int = 3) -> list[Row]:
    train_loader, _ = generated("data").get_data_loaders(
        "fashion-mnist", root, BATCH, 1000
    )
    # The floor: the same batches, cut once, before any clock starts.
    prebuilt = list(train_loader)
    samples = len(train_loader.labels)
    runners = {
        "floor": raw_loop(generated_net, prebuilt),
        "generated": generated_path(generated_net, train_loader),
        "classic floor": raw_loop(classic_net, prebuilt),
        "classic generated": generated_path(classic_net, train_loader),
        "classic recipe": raw_loop(classic_net, classic_loader(root)),
    }
    times = interleaved(runners, repeats)
    seconds = {name: median(t) for name, t in times.items()}

    def row(name, case, note="", goal="", met=None):
        rate = f"{samples / seconds[name]:,.0f} samples/s"
        return Row(
            "Fashion-MNIST epoch",
            case,
            seconds[name],
            "s",
            f"{rate}; {note}" if note else rate,
            goal,
            met,
        )

    # Each path runs right after its floor: the ratio of each such pair moves less
    # than the ratio of two medians when the machine's speed drifts.
    ratio = paired_ratio(times, "generated", "floor")
    classic = seconds["classic recipe"]
    classic_ratio = paired_ratio(times, "classic generated", "classic floor")
    return short_run_ratios(train_loader, prebuilt[:SHORT_RUN_STEPS]) + [
        row("floor", "generated net: raw loop, prebuilt batches (floor)"),
        row(
            "generated",
            "generated net: trainer + TensorLoader",
            f"{ratio:.3f}x floor (paired)",
            f"≤ {GOAL_RATIO}x floor",
            ratio <= GOAL_RATIO,
        ),
        row("classic recipe", "ignite's net: classic recipe, DataLoader 0 workers"),
        row(
            "classic floor",
            "ignite's net: raw loop, prebuilt batches (floor)",
            f"{classic / seconds['classic floor']:.2f}x faster than classic",
        ),
        row(
            "classic generated",
            "ignite's net: trainer + TensorLoader",
            f"{classic_ratio:.3f}x floor (paired), "
            f"{classic / seconds['classic generated']:.2f}x faster than classic",
            f"≈ floor (≤ {GOAL_RATIO}x)",
            classic_ratio <= GOAL_RATIO,
        ),
    ]
