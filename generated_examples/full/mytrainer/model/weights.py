"""Weights from files: torchvision's published ones, and state_dict files.

`--pretrained` goes through torchvision's weights API, which reads the published
weights from $TORCH_HOME/hub/checkpoints (downloading them there once); `--weights`
loads a state_dict file, a run's model.pt or a checkpoint into a model whose head
may be shaped for other classes.
"""

import os
from urllib.parse import urlparse

import torch

from ..errors import RunError


class ModelError(RunError):
    """A model that cannot be built as asked; the message is one line."""


def torchvision_models():
    """torchvision.models, imported once a torchvision model is asked for: importing
    torchvision takes over a second, a large part of a small run that --model net
    makes without it."""
    from torchvision import models

    return models


def published_weights(name):
    try:
        return torchvision_models().get_model_weights(name).DEFAULT
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
