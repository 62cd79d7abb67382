"""The model: this project's Net or a torchvision network, and saving it for predict."""

from .backbones import Backbone, ModelError, model_preprocessing
from .build import (
    ModelCard,
    build_model,
    check_batch_size,
    check_input_size,
    load_saved_model,
    save_classes,
    save_model,
)
from .net import Net

__all__ = [
    "Backbone",
    "ModelCard",
    "ModelError",
    "Net",
    "build_model",
    "check_batch_size",
    "check_input_size",
    "load_saved_model",
    "model_preprocessing",
    "save_classes",
    "save_model",
]
