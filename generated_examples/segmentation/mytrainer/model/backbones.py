"""torchvision's segmentation models, with a classifier for this data's classes.

lraspp_mobilenet_v3_large (the fastest), deeplabv3_mobilenet_v3_large,
deeplabv3_resnet50, fcn_resnet50 and the rest of torchvision.models.segmentation.
A model trained from scratch or from torchvision's published weights (weights.py)
returns per-pixel log-probabilities at the images' size, like Net.
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
    """The --model type: net, or the name of one of torchvision's segmentation
    models."""
    if text == "net":
        return text
    models = torchvision_models()
    names = models.list_models(module=models.segmentation)
    if text not in names:
        raise argparse.ArgumentTypeError(
            f"expected net or a torchvision segmentation model ({', '.join(names)}), "
            f"got {text}"
        )
    return text


class Backbone(nn.Module):
    """A torchvision segmentation network whose classifier gives this data's classes.

    One-channel images are repeated to the three channels the network takes, as
    converting them to RGB would. freeze() trains the classifier alone: the rest
    keeps its weights and, in its BatchNorm layers, its running statistics.
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
        # torchvision's models return {"out": scores at the input's size, ...}.
        return self.network(x)["out"].log_softmax(dim=1)


def torchvision_network(name, num_classes, pretrained):
    """(network, name of its classifier) for num_classes: built for them from
    scratch, or from the published weights with their class layers replaced."""
    if not pretrained:
        # weights_backbone=None: no ImageNet backbone is fetched either.
        network = torchvision_models().get_model(
            name, weights=None, weights_backbone=None, num_classes=num_classes
        )
        return network, "classifier"
    weights = published_weights(name)
    try:
        network = torchvision_models().get_model(name, weights=weights)
    except Exception as error:
        raise ModelError(missing_weights_message(name, weights, error)) from None
    # The auxiliary classifier only helps train from scratch on large data.
    if getattr(network, "aux_classifier", None) is not None:
        network.aux_classifier = None
    replace_class_layers(network, len(weights.meta["categories"]), num_classes)
    return network, "classifier"


def replace_class_layers(network, published_classes, num_classes):
    """Swap each 1x1 convolution of the classifier that gives the published classes
    (LR-ASPP has two) for one that gives num_classes."""
    classifier = network.get_submodule("classifier")
    layers = [
        (name, module)
        for name, module in classifier.named_modules()
        if isinstance(module, nn.Conv2d) and module.out_channels == published_classes
    ]
    for name, old in layers:
        new = nn.Conv2d(old.in_channels, num_classes, kernel_size=1)
        parent, _, attribute = name.rpartition(".")
        setattr(classifier.get_submodule(parent), attribute, new)


def model_preprocessing(name, pretrained):
    """What the model asks of its input; None leaves a value to the data.
    Published weights bring the normalization they were trained with; the image
    size stays the data's, since these models take any."""
    if name == "net":
        return Preprocessing()
    if not pretrained:
        return Preprocessing(channels=3)
    weights = published_weights(name)
    fetch(name, weights)  # before the data is read: a missing file fails at once
    preset = weights.transforms()
    return Preprocessing(channels=3, mean=tuple(preset.mean), std=tuple(preset.std))
