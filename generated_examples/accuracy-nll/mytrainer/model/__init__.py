"""The model: this project's Net or a torchvision network, saving it for predict,
and reading it back (or its export) as an image classifier."""

from .backbones import Backbone, model_preprocessing
from .build import (
    ModelCard,
    build_model,
    check_batch_size,
    check_input_size,
    load_saved_model,
    save_classes,
    save_model,
)
from .classifier import ImageClassifier, load_classifier
from .net import Net
from .weights import ModelError

__all__ = [
    "Backbone",
    "ImageClassifier",
    "ModelCard",
    "ModelError",
    "Net",
    "build_model",
    "check_batch_size",
    "check_input_size",
    "load_classifier",
    "load_saved_model",
    "model_preprocessing",
    "save_classes",
    "save_model",
]
