"""How the processes share the model: each a whole copy (ddp) or a shard (fsdp).

    torchrun --nproc-per-node=4 -m mytrainer.train --strategy fsdp ...

ddp keeps the whole model, its gradients and AdamW's two moments on every process
and averages the gradients in backward. fsdp (PyTorch's FSDP2, fully_shard)
keeps 1/N of each on each of N processes and gathers a block's weights only
while that block runs: a model whose training state does not fit one device
trains on several. The steps are the same: the gradients are averaged over the
processes either way.

Checkpoints and model.pt hold the whole model whatever the strategy: a sharded
model is gathered to rank 0 to be saved, and every process takes its shard of a
loaded one. So a run may resume with the other strategy, and predict needs no
change. Gathering is a collective: every process must save and load together.
"""

import contextlib
import sys
from typing import NamedTuple

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .distributed import get_world_size, is_main_process

STRATEGIES = ("ddp", "fsdp")


def shard_model(model, strategy):
    """The module that trains `model` on this process: `model` itself on a single
    process, DDP around it for ddp, and for fsdp `model` sharded in place."""
    if get_world_size() == 1:
        if strategy == "fsdp" and is_main_process():
            print(
                "warning: --strategy fsdp shares the model among torchrun's "
                "processes; this single process trains it whole"
            )
        return model
    if strategy == "ddp":
        # Starts every process from rank 0's weights; averages gradients in backward.
        return DistributedDataParallel(model)
    # Imported here, not at start: FSDP and DTensor take most of a second to import,
    # which every unsharded run would pay.
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    # Every process built the same model (one seed) and keeps its own shard of it.
    # FSDP shards contiguous weights only (--channels-last does nothing here).
    model.to(memory_format=torch.contiguous_format)
    device = next(model.parameters()).device
    mesh = init_device_mesh(device.type, (get_world_size(),))
    # Each block of a Sequential or ModuleList (a network's stages and layers) is
    # gathered on its own, then the rest of the model with the root.
    for module in reversed(list(model.modules())):
        if isinstance(module, (nn.Sequential, nn.ModuleList)):
            for block in module:
                if any(True for _ in block.parameters()):
                    fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def is_sharded(model):
    # No model is sharded before shard_model imports FSDP.
    fsdp = sys.modules.get("torch.distributed.fsdp")
    return fsdp is not None and isinstance(model, fsdp.FSDPModule)


def is_shard(tensor):
    # No tensor is a DTensor before FSDP imports them.
    dtensor = sys.modules.get("torch.distributed.tensor")
    return dtensor is not None and isinstance(tensor, dtensor.DTensor)


@contextlib.contextmanager
def gathered(model):
    """Hold a sharded model's weights whole on every process for the block: then
    each process evaluates its share of the data on its own, however many batches
    its share has (sharded, every forward pass is one that all of them take)."""
    if not is_sharded(model):
        yield model
        return
    blocks = [module for module in model.modules() if is_sharded(module)]
    for block in blocks:
        block.unshard()
    blocks[0].set_reshard_after_forward(False)  # recurses into the blocks
    try:
        yield model
    finally:
        blocks[0].set_reshard_after_forward(True)
        for block in blocks:
            block.reshard()


class SavedStates(NamedTuple):
    """What model.pt and checkpoints save and load the state_dict() of."""

    model: object
    optimizer: object


def saved_states(model, optimizer):
    """`model` and `optimizer` or, when the model is sharded, views of them whose
    state_dict() is whole, on rank 0 (a checkpoint holds the same either way)."""
    if is_sharded(model):
        return SavedStates(WholeModel(model), WholeOptimizer(model, optimizer))
    return SavedStates(model, optimizer)


def state_dicts():
    """torch.distributed.checkpoint.state_dict, imported when a sharded model's
    state is saved or loaded: importing it at start would cost every run, sharded
    or not, about a tenth of a second."""
    import torch.distributed.checkpoint.state_dict as state_dicts

    return state_dicts


def gathered_options():
    """Gathered whole to rank 0's memory, so that a GPU never holds the whole state."""
    return state_dicts().StateDictOptions(full_state_dict=True, cpu_offload=True)


def whole_options():
    return state_dicts().StateDictOptions(full_state_dict=True)


class WholeModel:
    """A sharded model's state_dict(), gathered whole to rank 0 (empty on the
    others), as model.state_dict() of the unsharded model would be."""

    def __init__(self, model):
        self.model = model

    def state_dict(self):
        options = gathered_options()
        return state_dicts().get_model_state_dict(self.model, options=options)

    def load_state_dict(self, state):
        state_dicts().set_model_state_dict(self.model, state, options=whole_options())


class WholeOptimizer:
    """A sharded model's optimizer state, gathered whole to rank 0 and numbered as
    optimizer.state_dict() numbers parameters, so that either strategy loads it."""

    def __init__(self, model, optimizer):
        self.model = model
        self.optimizer = optimizer

    def names(self):
        """The names of the optimizer's parameters, in its order."""
        name_of = {p: name for name, p in self.model.named_parameters()}
        groups = self.optimizer.param_groups
        return [name_of[p] for group in groups for p in group["params"]]

    def state_dict(self):
        state = state_dicts().get_optimizer_state_dict(
            self.model, self.optimizer, options=gathered_options()
        )
        if not state:
            return state  # rank 0 holds it
        number = {name: i for i, name in enumerate(self.names())}
        return {
            "state": {number[name]: s for name, s in state["state"].items()},
            "param_groups": [
                {**group, "params": [number[name] for name in group["params"]]}
                for group in state["param_groups"]
            ],
        }

    def load_state_dict(self, state):
        names = self.names()
        by_name = {
            "state": {names[i]: s for i, s in state["state"].items()},
            "param_groups": [
                {**group, "params": [names[i] for i in group["params"]]}
                for group in state["param_groups"]
            ],
        }
        state_dicts().set_optimizer_state_dict(
            self.model, self.optimizer, by_name, options=whole_options()
        )


def whole_tensor(tensor):
    """`tensor` whole, on the CPU when it is a shard (every process must ask)."""
    if is_shard(tensor):
        return tensor.full_tensor().cpu()
    return tensor


def shard_like(tensor, parameter):
    """The whole `tensor` on `parameter`'s device, sharded as `parameter` is."""
    if is_shard(parameter):
        from torch.distributed.tensor import distribute_tensor

        mesh = parameter.device_mesh
        return distribute_tensor(
            tensor.to(mesh.device_type), mesh, parameter.placements
        )
    return tensor.to(parameter.device)
