"""Two processes on the CPU: shares of the data, and metrics summed across them."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mytrainer.data.loaders import EpochSampler, TensorLoader, process_share
from mytrainer.evaluation import validation_metrics
from mytrainer.model.loss import loss_fn

WORLD_SIZE = 2
NUM_CLASSES = 10


def make_metrics():
    """The project's validation metrics, and per-class scores where they exist."""
    metrics = validation_metrics(NUM_CLASSES, loss_fn)
    for name, metric in list(metrics.items()):
        if hasattr(metric, "average"):
            metrics[f"{name} per class"] = type(metric)(average=None)
    return metrics


def make_batches(sizes):
    generator = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(size, NUM_CLASSES, generator=generator).log_softmax(dim=1),
            torch.randint(0, NUM_CLASSES, (size,), generator=generator),
        )
        for size in sizes
    ]


def updated_metrics(batches):
    metrics = make_metrics()
    for metric in metrics.values():
        for batch in batches:
            metric.update(batch)
    return metrics


# Batch sizes fed to the metrics; the batches alternate between the two processes.
SCENARIOS = {"unequal shares": [7, 1, 12, 5, 3], "one process sees nothing": [4]}


def compute_shares(rank, rendezvous, results):
    """One process: update the metrics with its share of the batches, sum, compute."""
    dist.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD_SIZE
    )
    try:
        values = {}
        for scenario, sizes in SCENARIOS.items():
            batches = process_share(make_batches(sizes), rank, WORLD_SIZE)
            metrics = updated_metrics(batches)
            for metric in metrics.values():
                metric.sync()
            values[scenario] = {
                name: metric.compute() for name, metric in metrics.items()
            }
        torch.save(values, results / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def computed_by_two_processes(tmp_path_factory):
    results = tmp_path_factory.mktemp("two_processes")
    mp.spawn(compute_shares, args=(results / "rendezvous", results), nprocs=WORLD_SIZE)
    return [torch.load(results / f"rank{rank}.pt") for rank in range(WORLD_SIZE)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_metrics_summed_over_two_processes_equal_one_process_on_all_data(
    computed_by_two_processes, scenario
):
    expected = updated_metrics(make_batches(SCENARIOS[scenario]))
    for rank, values in enumerate(computed_by_two_processes):
        assert values[scenario].keys() == expected.keys()
        for name, metric in expected.items():
            where = f"{name} on rank {rank}"
            torch.testing.assert_close(
                torch.as_tensor(values[scenario][name]),
                torch.as_tensor(metric.compute()),
                rtol=0,
                atol=1e-6,
                msg=lambda message, where=where: f"{where}: {message}",
            )


def test_process_shares_cover_an_epoch_once():
    order = list(range(11))
    shares = [process_share(order, rank, WORLD_SIZE) for rank in range(WORLD_SIZE)]
    assert sorted(shares[0] + shares[1]) == order  # evaluation: every sample, once

    # Training: equal shares, so that every process takes the same number of steps.
    equal = [
        process_share(order, rank, WORLD_SIZE, drop_last=True)
        for rank in range(WORLD_SIZE)
    ]
    assert len(equal[0]) == len(equal[1]) == 5
    assert not set(equal[0]) & set(equal[1])


def test_two_tensor_loaders_together_take_the_batches_of_one():
    # 13 samples: the one left out for equal shares is the one a single process
    # leaves out of its last batch, which would hold it alone.
    images, labels = torch.zeros(13, 1, 28, 28), torch.arange(13)
    single = TensorLoader(images, labels, batch_size=4, shuffle=True, seed=3)
    shared = [
        TensorLoader(
            images, labels, 2, shuffle=True, seed=3, rank=rank, world_size=WORLD_SIZE
        )
        for rank in range(WORLD_SIZE)
    ]
    for loader in [single, *shared]:
        loader.set_epoch(1)

    assert len(shared[0]) == len(shared[1]) == len(single)
    together = [
        set(a.tolist()) | set(b.tolist())
        for (_, a), (_, b) in zip(*shared, strict=True)
    ]
    assert together == [set(y.tolist()) for _, y in single]


def test_evaluation_shares_hold_every_sample_once():
    images, labels = torch.zeros(11, 1, 28, 28), torch.arange(11)
    seen = [
        y
        for rank in range(WORLD_SIZE)
        for _, y in TensorLoader(images, labels, 4, rank=rank, world_size=WORLD_SIZE)
    ]
    assert sorted(torch.cat(seen).tolist()) == list(range(11))

    samplers = [
        EpochSampler(11, shuffle=False, rank=rank, world_size=WORLD_SIZE)
        for rank in range(WORLD_SIZE)
    ]
    assert sorted(list(samplers[0]) + list(samplers[1])) == list(range(11))
    assert [len(sampler) for sampler in samplers] == [6, 5]
