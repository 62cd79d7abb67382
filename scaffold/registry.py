"""The one place that describes each metric and feature scaffold offers.

The CLI help, option validation and the templates all read from here, so adding a
metric means adding an entry below and its template file, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricSpec:
    name: str  # the --metrics name
    summary: str  # one line for `scaffold list`
    classes: tuple[str, ...]  # classes the generated package exports for it
    module: str  # module under <package>/metrics/ that defines them
    build: str  # how train.py constructs it for the evaluator


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "accuracy",
            "fraction of correct predictions (binary, multiclass, multilabel)",
            ("Accuracy", "CategoricalAccuracy"),
            "accuracy",
            "Accuracy()",
        ),
        MetricSpec(
            "nll",
            "negative log-likelihood (any loss function), averaged per sample",
            ("Loss",),
            "loss",
            "Loss(F.nll_loss)",
        ),
        MetricSpec(
            "precision",
            "precision, averaged macro/micro/weighted or per class",
            ("Precision",),
            "precision_recall",
            'Precision(average="macro")',
        ),
        MetricSpec(
            "recall",
            "recall, averaged macro/micro/weighted or per class",
            ("Recall",),
            "precision_recall",
            'Recall(average="macro")',
        ),
        MetricSpec(
            "f1",
            "F1 score, averaged macro/micro/weighted or per class",
            ("F1",),
            "precision_recall",
            'F1(average="macro")',
        ),
        MetricSpec(
            "topk",
            "top-k accuracy (k=5 by default)",
            ("TopKAccuracy",),
            "topk",
            "TopKAccuracy(k=5)",
        ),
        MetricSpec(
            "confusion",
            "confusion matrix, optionally normalized",
            ("ConfusionMatrix",),
            "confusion",
            "ConfusionMatrix(num_classes=NUM_CLASSES)",
        ),
    )
}

DEFAULT_METRICS = ("accuracy", "nll")


@dataclass(frozen=True)
class FeatureSpec:
    name: str  # the Options field and the --flag name (underscores become dashes)
    summary: str
    choices: tuple[
        str, ...
    ] = ()  # a choice option's values, the default first; () for on/off


# --scheduler values; the first is the default (the recipe the model was tuned with).
SCHEDULERS = ("onecycle", "cosine", "step", "none")

FEATURES: dict[str, FeatureSpec] = {
    spec.name: spec
    for spec in (
        FeatureSpec(
            "cuda",
            "train on a GPU when one is present (pinned memory, non-blocking copies)",
        ),
        FeatureSpec(
            "distributed",
            "train on several processes or machines with torchrun and DDP; exact metrics",
        ),
        FeatureSpec(
            "checkpoint",
            "atomic checkpoints (last n, best n) and exact resume with --resume PATH|last",
        ),
        FeatureSpec(
            "early_stopping",
            "stop when a validation metric stops improving (patience, min-delta)",
        ),
        FeatureSpec(
            "scheduler",
            "learning-rate schedule, stepped per optimizer step (step: per epoch)",
            SCHEDULERS,
        ),
        FeatureSpec(
            "amp",
            "mixed precision: bf16 autocast on CPU, bf16/fp16 (+ GradScaler) on CUDA",
        ),
        FeatureSpec("progress", "a tqdm progress bar per epoch (adds tqdm)"),
        FeatureSpec(
            "tensorboard",
            "TensorBoard event files of loss, learning rate and metrics (adds tensorboard)",
        ),
        FeatureSpec(
            "plot", "a PNG of the training curves at the end (adds matplotlib)"
        ),
    )
}

# Names a generated package must not take: they would shadow a module the
# generated code imports, or the project's own tests folder.
RESERVED_NAMES = frozenset(
    {
        "torch",
        "torchvision",
        "test",
        "tests",
        "scaffold",
        "argparse",
        "json",
        "math",
        "os",
        "sys",
        "time",
        "random",
        "pathlib",
        "dataclasses",
        "enum",
        "functools",
        "inspect",
        "typing",
        "collections",
        "itertools",
        "numpy",
        "pytest",
        "tqdm",
        "matplotlib",
        "tensorboard",
        "setuptools",
    }
)
