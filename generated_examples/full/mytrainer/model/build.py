"""A model by name: build it, check what it can take, save it for predict, load it.

`--model net` is this project's own Net; any other name is a torchvision model
with a new head (backbones.py).
"""

import json
import os
from typing import NamedTuple

import torch
from torch import nn

from ..data.images import Preprocessing
from ..errors import UsageError
from .backbones import Backbone, torchvision_network
from .net import Net
from .weights import ModelError, cause, load_weights


def build_model(
    name, num_classes, in_channels, pretrained=False, weights=None, width=1.0
):
    """The model `name` (net or a torchvision model) for `num_classes` classes, from
    torchvision's published weights, a state_dict file, or freshly initialized;
    `width` scales net's layers (torchvision's models have widths of their own)."""
    if name == "net":
        model = Net(num_classes, in_channels, width=width)
        if weights is not None:
            load_weights(model, model.head, weights)
        return model
    network, head = torchvision_network(name, num_classes, pretrained)
    if weights is not None:
        load_weights(network, head, weights)
    return Backbone(network, head, in_channels)


def check_batch_size(model, name, batch_size):
    """Fail now, in one line, if the model cannot train on batches of `batch_size`
    samples: BatchNorm1d needs two or more."""
    if batch_size == 1 and any(isinstance(m, nn.BatchNorm1d) for m in model.modules()):
        raise UsageError(
            f"argument --batch-size: one sample a step (per process), on which the "
            f"BatchNorm1d layers of {name} cannot train; use 2 or more"
        )


def check_input_size(model, name, channels, size):
    """Fail now, in one line, if the model cannot take size x size images: some
    shrink them below one pixel (convnext needs 32, others more), and the rest would
    train their last stages on a single pixel."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, size, size))
        factor = shrink_factor(model, channels)
    except (RuntimeError, AssertionError) as error:
        raise ModelError(
            f"{name} cannot take {size}x{size} images ({cause(error)}); "
            "choose a larger --image-size"
        ) from None
    finally:
        model.train(was_training)
    if factor and size < factor // 2:
        raise ModelError(
            f"{name} makes images {factor} times smaller: below {factor // 2}x"
            f"{factor // 2} its last stages see a single pixel; choose a larger "
            "--image-size"
        )


def shrink_factor(model, channels, probe=64):
    """How many times smaller than the image the model's smallest feature map is
    (32 for resnet18), or None for a model that takes one image size only."""
    sides = []

    def record(module, inputs, output):
        # Only the layers that shrink their input: squeeze-and-excitation blocks
        # work on 1x1 maps that say nothing of the image's path.
        before, after = inputs[0].shape[-2:], output.shape[-2:]
        if output.dim() == 4 and min(after) < min(before):
            sides.append(min(after))

    # Adaptive pooling, which maps any size to a fixed one, is none of these.
    shrinking = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)
    hooks = [
        module.register_forward_hook(record)
        for module in model.modules()
        if isinstance(module, shrinking)
    ]
    try:
        model(torch.zeros(1, channels, probe, probe))
    except (RuntimeError, AssertionError):  # vit's size check is an assertion
        return None
    finally:
        for hook in hooks:
            hook.remove()
    return probe // min(sides) if sides else None


class ModelCard(NamedTuple):
    """What a model's weights need to be used: the model's name, the class names in
    label order, the preprocessing of validation and net's --width. Every file train
    writes holds one (model.pt, last.pt and each checkpoint), so predict can use any
    of them."""

    name: str
    classes: list
    preprocessing: Preprocessing
    width: float = 1.0

    def state_dict(self):
        return {
            "model": self.name,
            "classes": list(self.classes),
            "preprocessing": self.preprocessing._asdict(),
            "width": self.width,
        }

    def load_state_dict(self, state):
        # Resuming a run of another model, or of other classes, would not fit.
        if (state["model"], state["classes"]) != (self.name, list(self.classes)):
            raise ValueError(
                f"it holds a {state['model']} of {len(state['classes'])} classes, "
                f"not a {self.name} of {len(self.classes)}"
            )

    @classmethod
    def from_state_dict(cls, state):
        preprocessing = Preprocessing(**state["preprocessing"])
        width = state.get("width", 1.0)  # files of before --width: 1.0
        return cls(state["model"], state["classes"], preprocessing, width)


def save_model(path, weights, card, epoch):
    """Write `weights`, a model or its state_dict (a sharded model's, gathered
    whole), trained for `epoch` epochs, with its card, to `path`, which
    torch.load(weights_only=True) reads; the file appears whole or not at all."""
    if isinstance(weights, nn.Module):
        weights = weights.state_dict()
    saved = {**card.state_dict(), "epoch": epoch, "state_dict": weights}
    torch.save(saved, f"{path}.partial")
    os.replace(f"{path}.partial", path)
    return path


def save_classes(folder, classes):
    """Write the class names, in label order, to folder/classes.json."""
    path = os.path.join(folder, "classes.json")
    with open(f"{path}.partial", "w", encoding="utf-8") as file:
        json.dump(list(classes), file, indent=1)
    os.replace(f"{path}.partial", path)
    return path


def load_saved_model(path, device="cpu"):
    """(model in eval mode, ModelCard) from a file train wrote: model.pt (the best
    epoch), last.pt (the last one) or a training checkpoint."""
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception:
        saved = None  # not a file torch.save wrote, or one holding code
    if isinstance(saved, dict) and "state_dict" in saved:
        state, card = saved["state_dict"], saved
    elif isinstance(saved, dict) and "model_card" in saved:  # a checkpoint
        state, card = saved["model"], saved["model_card"]
    else:
        raise ModelError(
            f"{path}: not a model.pt, last.pt or checkpoint that train wrote"
        )
    card = ModelCard.from_state_dict(card)
    channels = card.preprocessing.channels
    model = build_model(card.name, len(card.classes), channels, width=card.width)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise ModelError(
            f"{path}: its weights do not fit the {card.name} this code builds "
            f"({cause(error)}); was the model edited since?"
        ) from None
    return model.to(device).eval(), card
