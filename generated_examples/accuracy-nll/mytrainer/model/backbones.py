"""torchvision's classification models, with a head for this data's classes.

`--pretrained` goes through torchvision's weights API, which reads the published
weights from $TORCH_HOME/hub/checkpoints (downloading them there once); a model
trained from scratch or from them returns log-probabilities, like Net.
"""

import os
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision import models

from ..data.images import Preprocessing
from ..errors import RunError


class ModelError(RunError):
    """A model that cannot be built as asked; the message is one line."""


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
        network = models.get_model(name, weights=weights)
    except Exception as error:
        if weights is None:
            raise
        raise ModelError(missing_weights_message(name, weights, error)) from None
    head = replace_head(network, num_classes)
    return network, head


def published_weights(name):
    try:
        return models.get_model_weights(name).DEFAULT
    except (KeyError, ValueError, AttributeError):
        raise ModelError(f"torchvision publishes no weights for {name}") from None


def fetch(name, weights):
    """Make sure torchvision's weights API has the file of `weights`, downloading
    it if it can."""
    if os.path.isfile(weights_file(weights)):
        return
    try:
        torch.hub.load_state_dict_from_url(weights.url, weights_only=True)
    except Exception as error:
        raise ModelError(missing_weights_message(name, weights, error)) from None


def weights_file(weights):
    """Where torchvision's weights API keeps the file of `weights`."""
    filename = os.path.basename(urlparse(weights.url).path)
    return os.path.join(torch.hub.get_dir(), "checkpoints", filename)


def missing_weights_message(name, weights, error):
    path = weights_file(weights)
    if os.path.isfile(path):
        return f"{path}: not {name}'s weights ({cause(error)})"
    return (
        f"--pretrained: {name}'s weights are not in {os.path.dirname(path)} as "
        f"{os.path.basename(path)}, and downloading them failed ({cause(error)}); "
        "copy the file there, or run once with a network"
    )


def cause(error):
    """The line of an error's message that names its cause: torch's often start
    with a heading ("Error(s) in loading state_dict for ResNet:")."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [line for line in lines if not line.endswith(":")]
    return (telling or lines or [type(error).__name__])[0]


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


def load_weights(network, head, path):
    """Load a state_dict file into network. A head shaped for other classes (an
    ImageNet file's 1,000) is left out: the network keeps its new one."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelError(f"{path}: not a state_dict file ({error})") from None
    if isinstance(state, dict) and "state_dict" in state:  # a model.pt of a run
        state = state["state_dict"]
    elif isinstance(state, dict) and "model_card" in state:  # a run's checkpoint
        state = state["model"]
    if not isinstance(state, dict):
        raise ModelError(f"{path}: not a state_dict file")
    # A model.pt of a torchvision model holds the Backbone's keys.
    state = {key.removeprefix("network."): value for key, value in state.items()}
    own = network.state_dict()
    head_keys = {key for key in own if key.startswith(f"{head}.")}
    if any(k in state and state[k].shape != own[k].shape for k in head_keys):
        state = {k: v for k, v in state.items() if k not in head_keys}
    try:
        missing, unexpected = network.load_state_dict(state, strict=False)
    except RuntimeError as error:
        raise ModelError(f"{path}: does not fit this model ({cause(error)})") from None
    missing = set(missing) - head_keys
    if missing or unexpected:
        key = sorted(missing or unexpected)[0]
        raise ModelError(
            f"{path}: does not fit this model ({len(missing)} missing and "
            f"{len(unexpected)} unexpected keys, such as {key})"
        )


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
