"""A trained model as predict uses it: uint8 images in, class probabilities out.

The same classifier comes from any of the files a model leaves a run in:

    model.pt, last.pt, checkpoints/*.pt   weights: this project's code builds the model
    model.onnx                            run by onnxruntime (the export extra)
    model.pt2                             torch.export's program, run by torch alone

export.py writes the last two from the first; each holds the model's card (class
names and preprocessing) as JSON, so it is used without this project's code.
"""

import importlib
import json
import os
import zipfile

import torch
from torch import nn
from torch.export.passes import move_to_device_pass

from .build import ModelCard, load_saved_model
from .weights import ModelError, cause

EXPORT_EXTRA = (
    "pip install -e '.[export]' in this project "
    "(or pip install onnx onnxscript onnxruntime)"
)
# The key of the card in an ONNX file's metadata; a .pt2 file holds it as a file.
CARD_KEY = "model_card"
CARD_FILE = "model_card.json"


class ImageClassifier(nn.Module):
    """`model` with the normalization of `preprocessing` in front and softmax at
    the end: (N, C, H, W) uint8 images, resized and cropped as `preprocessing`
    says, in; (N, classes) probabilities out. This is what export writes."""

    def __init__(self, model, preprocessing):
        super().__init__()
        self.model = model
        shape = (1, -1, 1, 1)  # one value per channel
        mean = torch.tensor(preprocessing.mean, dtype=torch.float32).view(shape)
        std = torch.tensor(preprocessing.std, dtype=torch.float32).view(shape)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def forward(self, images):
        # The steps of data/images.normalize, in its order: the same floats.
        images = (images.float() / 255 - self.mean) / self.std
        return self.model(images).exp()  # the model returns log-probabilities


def card_json(card, output_shape):
    """The card as export stores it, with what goes in and what comes out spelt
    out; `output_shape` is the shape of one image's output: (classes,), or
    (classes, H, W) for a class per pixel."""
    size, channels = card.preprocessing.image_size, card.preprocessing.channels
    steps = "resized whole (bilinear)"
    if card.preprocessing.resize_size:
        steps = "shorter side resized to resize_size (bilinear), then the centre "
        steps += f"{size}x{size}"
    shape = ", ".join(str(n) for n in output_shape)
    return json.dumps(
        {
            **card.state_dict(),
            "input": f"uint8 images (N, {channels}, {size}, {size}): {steps}",
            "output": f"probabilities (N, {shape}), in classes' order",
        }
    )


def card_from_json(path, text):
    if text is None:
        raise ModelError(f"{path}: holds no model card; was it written by export?")
    try:
        return ModelCard.from_state_dict(json.loads(text))
    except (ValueError, KeyError, TypeError):
        raise ModelError(f"{path}: its model card is not one export wrote") from None


def optional_module(name):
    """Import `name`, one of the export extra's packages, or say how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ModelError(f"{name} is not installed: {EXPORT_EXTRA}") from None


class OnnxClassifier:
    """An ONNX file's model in an onnxruntime session, called as the model is."""

    def __init__(self, path, device):
        onnxruntime = optional_module("onnxruntime")
        # CUDA only when asked for and this onnxruntime has it; else the CPU.
        wanted = ["CPUExecutionProvider"]
        if device.type == "cuda":
            wanted.insert(0, "CUDAExecutionProvider")
        available = onnxruntime.get_available_providers()
        providers = [name for name in wanted if name in available]
        options = onnxruntime.SessionOptions()
        # As many threads as torch takes (torch.set_num_threads, OMP_NUM_THREADS).
        options.intra_op_num_threads = torch.get_num_threads()
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=providers
            )
        except Exception as error:
            if "external" in str(error) and not os.path.exists(f"{path}.data"):
                # A model over 2 GB keeps its weights in FILE.onnx.data.
                raise ModelError(
                    f"{path}: its weights file {os.path.basename(path)}.data is "
                    "missing; it must sit beside it"
                ) from None
            raise ModelError(
                f"{path}: onnxruntime cannot load it ({cause(error)})"
            ) from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        self.card = card_from_json(path, metadata.get(CARD_KEY))
        self.input = self.session.get_inputs()[0].name

    def __call__(self, images):
        (probabilities,) = self.session.run(None, {self.input: images.cpu().numpy()})
        return torch.from_numpy(probabilities)


def load_pt2(path, device):
    """(module, card) of a .pt2 file that export wrote, on `device`."""
    # torch.export.load logs a traceback before it raises for a file that is no
    # zip archive, as every .pt2 file is.
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a torch.export file")
    found = {CARD_FILE: ""}
    try:
        program = torch.export.load(path, extra_files=found)
    except Exception as error:
        raise ModelError(f"{path}: not a torch.export file ({cause(error)})") from None
    card = card_from_json(path, found[CARD_FILE] or None)
    program = move_to_device_pass(program, device)
    return program.module(), card


def load_classifier(path, device):
    """(classifier, ModelCard) from model.pt (or last.pt, a checkpoint), a .onnx or
    a .pt2 file: the classifier takes uint8 images on `device` and returns their
    probabilities."""
    suffix = str(path).lower().rpartition(".")[2]
    if suffix == "onnx":
        classifier = OnnxClassifier(path, device)
        return classifier, classifier.card
    if suffix == "pt2":
        return load_pt2(path, device)
    model, card = load_saved_model(path, device)
    return ImageClassifier(model, card.preprocessing).to(device).eval(), card
