"""torchvision models as the generated project builds them: the head replaced for
the data's classes, log-probabilities out, one-channel input repeated, freezing."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from scaffold.options import Options
from scaffold.render import render

from .conftest import write_tree

pytestmark = pytest.mark.slow  # trains, or runs a generated program

NAME = "backbonetest"
# The usual heads: a linear head at the end of `fc` or of a `classifier` block.
HEADS = {
    "resnet18": "fc",
    "mobilenet_v3_small": "classifier.3",
    "efficientnet_b0": "classifier.1",
    "convnext_tiny": "classifier.2",
    "squeezenet1_1": "classifier.1",  # a 1x1 convolution, not a linear layer
}


@pytest.fixture(scope="module")
def model_module(tmp_path_factory):
    root = write_tree(tmp_path_factory.mktemp("backbones"), render(Options(NAME)))
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(f"{NAME}.model")
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m.split(".")[0] == NAME]:
            del sys.modules[module]


@pytest.mark.parametrize("name", HEADS)
def test_the_head_is_replaced_for_the_classes_and_gives_log_probabilities(
    model_module, name
):
    torch.manual_seed(0)
    model = model_module.build_model(name, num_classes=3, in_channels=1).eval()
    assert model.head == HEADS[name]
    head = model.network.get_submodule(model.head)
    out_features = getattr(head, "out_features", getattr(head, "out_channels", None))
    assert out_features == 3
    with torch.no_grad():
        output = model(torch.randn(2, 1, 64, 64))  # one channel, repeated to three
    assert output.shape == (2, 3)
    assert torch.allclose(output.exp().sum(dim=1), torch.ones(2), atol=1e-5)


def test_freezing_leaves_only_the_head_trainable_and_batchnorm_in_eval(model_module):
    model = model_module.build_model("resnet18", num_classes=4, in_channels=3)
    model.freeze()
    model.train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"network.fc.weight", "network.fc.bias"}
    batchnorms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert batchnorms and not any(m.training for m in batchnorms)
    assert model.network.fc.training


def test_a_model_too_deep_for_the_image_size_is_one_line(model_module):
    model = model_module.build_model("convnext_tiny", num_classes=2, in_channels=3)
    with pytest.raises(model_module.ModelError) as error:
        model_module.check_input_size(model, "convnext_tiny", 3, 16)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("convnext_tiny cannot take 16x16 images (")
    assert message.endswith("choose a larger --image-size")
    model_module.check_input_size(model, "convnext_tiny", 3, 32)
