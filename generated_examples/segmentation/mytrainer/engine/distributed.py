"""Training on several processes at once, launched by torchrun.

    torchrun --nproc_per_node=2 -m mytrainer.train --epochs 5

torchrun starts the processes and tells each one its place through environment
variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); `setup` reads
them to join the process group. Started with plain `python` none is set, and the
same code runs as a single process: every function here then answers for a world
of one.
"""

import functools
import gc
import os

import torch
import torch.distributed as dist

from ..errors import RunError


def launched_by_torchrun():
    return "WORLD_SIZE" in os.environ


def setup(device, backend=None):
    """Join the process group torchrun prepared; return the device this process uses.

    `backend` defaults to nccl when training on GPUs and to gloo on the CPU. On
    GPUs every process takes its own: the one numbered LOCAL_RANK on its machine.
    """
    if not launched_by_torchrun():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    try:
        dist.init_process_group(backend)
    except dist.DistError as error:  # one never joined, within torch's timeout
        address = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
        reason = str(error).strip().splitlines()[0]
        raise RunError(
            f"process {os.environ.get('RANK')} of {os.environ['WORLD_SIZE']} could "
            f"not join the others at {address}: {reason}"
        ) from None
    return device


def cleanup():
    """Leave the process group, once what still holds it is freed: DDP's reducer,
    kept by a reference cycle, would otherwise keep the group's worker threads
    running into the interpreter's exit, where they can abort the process."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()


def get_rank():
    return dist.get_rank() if dist.is_initialized() else 0


def get_world_size():
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main_process():
    """Whether this process is the one that prints and writes files (rank 0)."""
    return get_rank() == 0


def from_main_process(value):
    """Rank 0's `value` (any picklable object), on every process."""
    if get_world_size() == 1:
        return value
    shared = [value]
    dist.broadcast_object_list(shared, src=0)
    return shared[0]


def sum_over_processes(tensors):
    """Element-wise sums of `tensors` (one dtype) over all processes, as new tensors.

    A 0-dim zero stands for a sum that has not taken its shape yet, such as the
    per-class counts of a process that saw no example; it takes the shape that the
    other processes agree on. Every process must call this with its tensors in the
    same order.
    """
    if get_world_size() == 1 or not tensors:
        return list(tensors)
    shapes = [None] * get_world_size()
    dist.all_gather_object(shapes, [tuple(tensor.shape) for tensor in tensors])
    agreed = []
    for index in range(len(tensors)):
        known = {process[index] for process in shapes} - {()}
        if len(known) > 1:
            raise ValueError(
                f"expected one shape on all processes, got {sorted(known)}"
            )
        agreed.append(known.pop() if known else ())
    flat = torch.cat(
        [
            tensor.expand(shape).reshape(-1)
            for tensor, shape in zip(tensors, agreed, strict=True)
        ]
    )
    if dist.get_backend() == "nccl":  # nccl reduces GPU tensors only
        flat = flat.to(torch.device("cuda", torch.cuda.current_device()))
    dist.all_reduce(flat)  # one collective for all of them: the default op is SUM
    sizes = [torch.Size(shape).numel() for shape in agreed]
    return [
        total.view(shape).to(tensor.device)
        for total, shape, tensor in zip(flat.split(sizes), agreed, tensors, strict=True)
    ]


def any_process(flag):
    """Whether `flag` is true on any process; every process must ask, at the same
    point of its run, so that all of them act on the same answer.

    Asked over gloo on the CPU even when training on GPUs with nccl: reading an
    answer from a GPU tensor would make each step wait for the GPU to catch up.
    """
    if get_world_size() == 1:
        return flag
    votes = torch.tensor([int(flag)])
    dist.all_reduce(votes, group=_cpu_group())
    return bool(votes.item())


@functools.cache
def _cpu_group():
    """The processes as a gloo group (None: the default group, when it is one)."""
    if dist.get_backend() == "gloo":
        return None
    return dist.new_group(backend="gloo")  # every process creates it, in step


def broadcast_buffers(module):
    """Copy rank 0's buffers, such as BatchNorm's running statistics, to all processes.

    DDP copies them at the start of every training step, so after the last step
    each process holds statistics updated by its own batch; evaluating with these
    copies makes every process use the same model as rank 0 (which is what a
    checkpoint holds).
    """
    if get_world_size() == 1:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)
