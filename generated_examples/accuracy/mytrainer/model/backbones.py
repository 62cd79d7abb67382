"""torchvision's classification models, with a head for this data's classes.

A model trained from scratch or from torchvision's published weights (weights.py)
returns log-probabilities, like Net.
"""

import argparse

from torch import nn

from ..data.images import Preprocessing
from .weights import (
    ModelError,
    fetch,
    missing_weights_message,
    published_weights,
    torchvision_models,
)


def model_name(text):
    """The --model type: net, or the name of one of torchvision's classification
    models."""
    if text == "net":
        return text
    models = torchvision_models()
    names = models.list_models(module=models)
    if text not in names:
        close = [n for n in names if n.startswith(text[:4])][:4] or names[:4]
        raise argparse.ArgumentTypeError(
            f"expected net or a torchvision classification model (such as "
            f"{', '.join(close)}), got {text}"
        )
    return text


class Backbone(nn.Module):
    """A torchvision network whose head gives this data's classes.

    One-channel images are repeated to the three channels the network takes, as
    converting them to RGB would. freeze() trains the head alone: the rest keeps
    its weights and, in its BatchNorm layers, its running statistics.
    """

    def __init__(self, network, head, in_channels):
        super().__init__()
        self.network = network
        self.head = head
        self.in_channels = in_channels
        self.frozen = False

    def freeze(self):
        head = self.network.get_submodule(self.head)
        for parameter in self.network.parameters():
            parameter.requires_grad = False
        for parameter in head.parameters():
            parameter.requires_grad = True
        self.frozen = True
        self.train(self.training)

    def train(self, mode=True):
        super().train(mode)
        if self.frozen:
            for module in self.network.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, x):
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.network(x).log_softmax(dim=1)


def torchvision_network(name, num_classes, pretrained):
    """(network, name of its head) with the head replaced for num_classes."""
    weights = published_weights(name) if pretrained else None
    try:
        network = torchvision_models().get_model(name, weights=weights)
    except Exception as error:
        if weights is None:
            raise
        raise ModelError(missing_weights_message(name, weights, error)) from None
    head = replace_head(network, num_classes)
    return network, head


def replace_head(network, num_classes):
    """Swap the network's last linear (or, for SqueezeNet, 1x1 convolution) layer
    for one with num_classes outputs, and return its name."""
    layers = [
        (name, module)
        for name, module in network.named_modules()
        if isinstance(module, (nn.Linear, nn.Conv2d))
    ]
    linear = [(n, m) for n, m in layers if isinstance(m, nn.Linear)]
    name, old = (linear or layers)[-1]
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes)
    else:
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
    parent, _, attribute = name.rpartition(".")
    setattr(network.get_submodule(parent), attribute, new)
    return name


def model_preprocessing(name, pretrained):
    """What the model asks of its input; None leaves a value to the data.
    Published weights bring the resize and normalization they were trained with."""
    if name == "net":
        return Preprocessing()
    if not pretrained:
        return Preprocessing(channels=3)
    weights = published_weights(name)
    fetch(name, weights)  # before the data is read: a missing file fails at once
    preset = weights.transforms()
    return Preprocessing(
        channels=3,
        image_size=preset.crop_size[0],
        resize_size=preset.resize_size[0],
        mean=tuple(preset.mean),
        std=tuple(preset.std),
    )
