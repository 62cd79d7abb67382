"""A model by name: build it, check what it can take, save it for predict, load it.

`--model net` is this project's own Net; any other name is a torchvision model
with a new head (backbones.py).
"""

import json
import os

import torch

from ..data.images import Preprocessing
from .backbones import Backbone, ModelError, cause, load_weights, torchvision_network
from .net import Net


def build_model(name, num_classes, in_channels, pretrained=False, weights=None):
    """The model `name` (net or a torchvision model) for `num_classes` classes, from
    torchvision's published weights, a state_dict file, or freshly initialized."""
    if name == "net":
        model = Net(num_classes, in_channels)
        if weights is not None:
            load_weights(model, model.head, weights)
        return model
    network, head = torchvision_network(name, num_classes, pretrained)
    if weights is not None:
        load_weights(network, head, weights)
    return Backbone(network, head, in_channels)


def check_input_size(model, name, channels, size):
    """Fail now, in one line, if the model cannot take size x size images: some
    shrink them below one pixel (convnext needs 32, others more)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, channels, size, size))
    except RuntimeError as error:
        raise ModelError(
            f"{name} cannot take {size}x{size} images ({cause(error)}); "
            "choose a larger --image-size"
        ) from None
    finally:
        model.train(was_training)


def save_model(folder, model, name, classes, preprocessing):
    """Write folder/model.pt, what inference needs, loadable with
    torch.load(weights_only=True): the weights, the model's name, the class names
    in label order and the preprocessing of validation; and the class names alone
    to folder/classes.json. Each file appears whole or not at all."""
    os.makedirs(folder, exist_ok=True)
    saved = {
        "model": name,
        "classes": list(classes),
        "preprocessing": preprocessing._asdict(),
        "state_dict": model.state_dict(),
    }
    path = os.path.join(folder, "model.pt")
    torch.save(saved, f"{path}.partial")
    os.replace(f"{path}.partial", path)
    classes_path = os.path.join(folder, "classes.json")
    with open(f"{classes_path}.partial", "w", encoding="utf-8") as file:
        json.dump(list(classes), file, indent=1)
    os.replace(f"{classes_path}.partial", classes_path)
    return path


def load_saved_model(path, device="cpu"):
    """(model in eval mode, class names, Preprocessing) from a save_model() file."""
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
        name, classes = saved["model"], saved["classes"]
        preprocessing = Preprocessing(**saved["preprocessing"])
    except Exception as error:
        raise ModelError(
            f"{path}: not a model.pt written by train ({cause(error)})"
        ) from None
    model = build_model(name, len(classes), preprocessing.channels)
    model.load_state_dict(saved["state_dict"])
    return model.to(device).eval(), classes, preprocessing
