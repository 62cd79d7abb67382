"""The one place that describes each metric and feature scaffold offers.

The CLI help, option validation, the manifest (which template files a render
includes) and the templates all read from here: adding a metric means an entry
below and its module under templates/package/metrics/, nothing else.

Template paths are written as they sit under templates/, which mirrors the
generated project: `package/` stands for the package folder (the project's name),
and a file holding Jinja carries a `.jinja` suffix that the render drops.
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
    files: tuple[str, ...]  # template files it needs
    tasks: tuple[str, ...] = ("classification",)  # the --task values it serves


# The segmentation metrics share one module and its tests.
SEGMENTATION_METRIC_FILES = (
    "package/metrics/segmentation.py",
    "tests/test_segmentation_metrics.py.jinja",
)

METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "accuracy",
            "fraction of correct predictions (binary, multiclass, multilabel)",
            ("Accuracy", "CategoricalAccuracy"),
            "accuracy",
            "Accuracy()",
            (
                "package/metrics/accuracy.py",
                "package/metrics/classification.py",
                "tests/test_accuracy.py.jinja",
            ),
        ),
        MetricSpec(
            "miou",
            "mean intersection over union of the classes present",
            ("IoU",),
            "segmentation",
            'IoU(num_classes, average="macro")',
            SEGMENTATION_METRIC_FILES,
            tasks=("segmentation",),
        ),
        MetricSpec(
            "iou",
            "intersection over union (Jaccard index) per class",
            ("IoU",),
            "segmentation",
            "IoU(num_classes)",
            SEGMENTATION_METRIC_FILES,
            tasks=("segmentation",),
        ),
        MetricSpec(
            "dice",
            "Dice coefficient (F1 score of pixels) per class",
            ("Dice",),
            "segmentation",
            "Dice(num_classes)",
            SEGMENTATION_METRIC_FILES,
            tasks=("segmentation",),
        ),
        MetricSpec(
            "pixel_accuracy",
            "fraction of labelled pixels classified right",
            ("PixelAccuracy",),
            "segmentation",
            "PixelAccuracy()",
            SEGMENTATION_METRIC_FILES,
            tasks=("segmentation",),
        ),
        MetricSpec(
            "nll",
            "negative log-likelihood (any loss function), averaged per sample or "
            "per labelled pixel",
            ("Loss",),
            "loss",
            "Loss(loss_fn, batch_size=count_targets)",
            ("package/metrics/loss.py", "tests/test_loss.py.jinja"),
            tasks=("classification", "segmentation"),
        ),
        MetricSpec(
            "precision",
            "precision, averaged macro/micro/weighted or per class",
            ("Precision",),
            "precision_recall",
            'Precision(average="macro")',
            (
                "package/metrics/precision_recall.py",
                "package/metrics/classification.py",
                "tests/test_precision_recall.py.jinja",
            ),
        ),
        MetricSpec(
            "recall",
            "recall, averaged macro/micro/weighted or per class",
            ("Recall",),
            "precision_recall",
            'Recall(average="macro")',
            (
                "package/metrics/precision_recall.py",
                "package/metrics/classification.py",
                "tests/test_precision_recall.py.jinja",
            ),
        ),
        MetricSpec(
            "f1",
            "F1 score, averaged macro/micro/weighted or per class",
            ("F1",),
            "precision_recall",
            'F1(average="macro")',
            (
                "package/metrics/precision_recall.py",
                "package/metrics/classification.py",
                "tests/test_precision_recall.py.jinja",
            ),
        ),
        MetricSpec(
            "topk",
            "top-k accuracy (k=5 by default)",
            ("TopKAccuracy",),
            "topk",
            "TopKAccuracy(k=5)",
            ("package/metrics/topk.py", "tests/test_topk.py.jinja"),
        ),
        MetricSpec(
            "confusion",
            "confusion matrix, optionally normalized",
            ("ConfusionMatrix",),
            "confusion",
            "ConfusionMatrix(num_classes)",
            ("package/metrics/confusion.py", "tests/test_confusion.py.jinja"),
        ),
    )
}

DEFAULT_METRICS = ("accuracy", "nll")
DEFAULT_SEGMENTATION_METRICS = ("miou", "iou", "dice", "pixel_accuracy", "nll")


@dataclass(frozen=True)
class FeatureSpec:
    """An option of `scaffold new` / `update` beyond the metrics.

    A render-time feature adds files (and perhaps a dependency) only to the projects
    that choose it. A run-time one costs nothing when unused, so every project holds
    its code and decides when it runs; `scaffold new` still records the choice, and
    for a choice with values the recorded one is the train script's default.
    """

    name: str  # the Options field and the --flag name (underscores become dashes)
    summary: str  # one line for `scaffold list`, the questions, the ui and --help
    render_time: bool
    # Render time: what it adds. Run time: what every project does when it runs.
    why: str
    choices: tuple[str, ...] = ()  # a choice option's values, the default first
    files: tuple[str, ...] = ()  # template files a render-time feature adds
    requires: tuple[str, ...] = ()  # requirements it adds to the project
    exports: tuple[str, ...] = ()  # names its handlers module exports
    flag_types: tuple[str, ...] = ()  # arguments.py types its train flags use

    @property
    def flag(self) -> str:
        """Its option of `scaffold new` / `update` / `diff`: --early-stopping."""
        return "--" + self.name.replace("_", "-")

    @property
    def default(self) -> bool | str:
        """Its value in a project that does not choose it: off, or the first choice."""
        return self.choices[0] if self.choices else False

    @property
    def help(self) -> str:
        """Its --help text; a run-time switch's says that it is only recorded."""
        if self.choices:
            text = f"{self.summary[0].upper()}{self.summary[1:]}: "
            text += f"{', '.join(self.choices)}."
            return f"{text} {self.why[0].upper()}{self.why[1:]}."
        if not self.render_time:
            return f"Recorded only: {self.why}."
        return f"{self.summary[0].upper()}{self.summary[1:]}."


# --scheduler values; the first is the default (the recipe the model was tuned with).
SCHEDULERS = ("onecycle", "cosine", "step", "none")

FEATURES: dict[str, FeatureSpec] = {
    spec.name: spec
    for spec in (
        FeatureSpec(
            "cuda",
            "every project trains on a GPU when one is present (--device chooses)",
            render_time=False,
            why="every project trains on a GPU when one is present, with pinned "
            "memory and non-blocking copies (its --device chooses)",
        ),
        FeatureSpec(
            "distributed",
            "every project trains as one process or under torchrun (DDP/FSDP2, exact metrics)",
            render_time=False,
            why="every project trains as one process, or under torchrun on several "
            "processes or machines (DDP, or FSDP2 with --strategy fsdp; exact metrics)",
        ),
        FeatureSpec(
            "amp",
            "every project: mixed precision on CUDA devices (--amp auto|on|off)",
            render_time=False,
            why="every project runs --amp auto by default: mixed precision on CUDA "
            "devices only, bf16 where supported, else fp16 with a GradScaler; "
            "--amp on, off, bfloat16 or float16 overrides",
        ),
        FeatureSpec(
            "scheduler",
            "learning-rate schedule, stepped per optimizer step (step: per epoch)",
            render_time=False,
            why="every project has them all; the one chosen here is the default of "
            "its --scheduler",
            choices=SCHEDULERS,
        ),
        FeatureSpec(
            "checkpoint",
            "atomic checkpoints (last n, best n) and exact resume with --resume PATH|last",
            render_time=True,
            why="adds handlers/checkpoint.py and seven flags that a short "
            "experiment does not need",
            files=(
                "package/handlers/checkpoint.py",
                "tests/test_checkpoint.py.jinja",
            ),
            exports=(
                "AccumulatedGradients",
                "Checkpointer",
                "RandomStates",
                "RunPlan",
                "StopOnSignal",
            ),
            flag_types=("non_negative_int", "positive_int"),
        ),
        FeatureSpec(
            "early_stopping",
            "stop when a validation metric stops improving (patience, min-delta)",
            render_time=True,
            why="adds handlers/early_stopping.py and its flags",
            files=(
                "package/handlers/early_stopping.py",
                "tests/test_early_stopping.py.jinja",
            ),
            exports=("EarlyStopping",),
            flag_types=("non_negative_float", "positive_int"),
        ),
        FeatureSpec(
            "progress",
            "a tqdm progress bar per epoch (adds tqdm)",
            render_time=True,
            why="adds the tqdm dependency",
            files=("package/handlers/progress.py",),
            requires=("tqdm>=4.66",),
            exports=("ProgressBar",),
        ),
        FeatureSpec(
            "tensorboard",
            "TensorBoard event files of loss, learning rate and metrics (adds tensorboard)",
            render_time=True,
            why="adds the tensorboard dependency",
            files=("package/handlers/tensorboard_logger.py",),
            requires=("tensorboard>=2.14",),
            exports=("TensorBoardLogger",),
        ),
        FeatureSpec(
            "mlflow",
            "MLflow runs of flags, loss, metrics and model; sqlite, no server (adds mlflow)",
            render_time=True,
            why="adds the mlflow dependency",
            files=("package/handlers/mlflow_logger.py",),
            requires=("mlflow>=3.0",),
            exports=("MLflowLogger",),
        ),
        FeatureSpec(
            "wandb",
            "Weights & Biases runs of flags, loss, metrics and model; offline by default "
            "(adds wandb)",
            render_time=True,
            why="adds the wandb dependency",
            files=("package/handlers/wandb_logger.py",),
            requires=("wandb>=0.19",),
            exports=("WandbLogger",),
        ),
        FeatureSpec(
            "sweep",
            "python -m NAME.sweep: tune flags with Optuna (TPE, pruning, sqlite; adds "
            "optuna)",
            render_time=True,
            why="adds sweep.py and the optuna dependency",
            files=("package/sweep.py.jinja",),
            requires=("optuna>=4.0",),
        ),
        FeatureSpec(
            "plot",
            "a PNG of the training curves at the end (adds matplotlib)",
            render_time=True,
            why="adds the matplotlib dependency",
            files=("package/handlers/plot.py",),
            requires=("matplotlib>=3.7",),
            exports=("plot_history",),
        ),
        FeatureSpec(
            "slurm",
            "slurm/train.sbatch: torchrun on a Slurm allocation's nodes, "
            "requeued at the time limit",
            render_time=True,
            why="adds a batch script that only Slurm users need",
            files=("slurm/train.sbatch.jinja",),
        ),
    )
}


@dataclass(frozen=True)
class DataSpec:
    """A kind of data a project trains on (`--data`): the files that read it.

    Its files sit under templates/data/<name>/ and land where the path below that
    says; each kind's package holds a `data.py` with the same two functions,
    `add_arguments(parser)` and `get_data(args, device, wanted)`, so nothing
    else in a project depends on the kind.
    """

    name: str
    summary: str
    files: tuple[str, ...]
    data_dir: str  # the --data-dir of the first run that `scaffold new` suggests
    task: str = "classification"  # the task (TASKS) whose data it is


DATA_KINDS: dict[str, DataSpec] = {
    spec.name: spec
    for spec in (
        DataSpec(
            "mnist",
            "MNIST or Fashion-MNIST through torchvision (--dataset), in memory",
            (
                "data/mnist/package/data/__init__.py",
                "data/mnist/package/data/mnist.py",
            ),
            data_dir="data",
        ),
        DataSpec(
            "imagefolder",
            "your own images: class folders or path,label CSV files, any size and mode",
            (
                "data/imagefolder/package/data/__init__.py",
                "data/imagefolder/package/data/imagefolder.py",
                "data/imagefolder/package/data/folders.py",
                "data/imagefolder/package/data/image_cache.py",
                "package/data/augment.py",
                "data/imagefolder/package/data/sources.py",
                "package/data/survey.py",
                "data/imagefolder/tests/test_data.py.jinja",
            ),
            data_dir="PATH/TO/IMAGES",
        ),
        DataSpec(
            "masks",
            "your own images and masks: images/ and masks/ folders, any size and mode",
            (
                "data/masks/package/data/__init__.py",
                "data/masks/package/data/masks.py",
                "data/masks/package/data/pairs.py",
                "data/masks/package/data/joint_augment.py",
                "data/masks/tests/test_data.py.jinja",
                "package/data/augment.py",
                "package/data/survey.py",
            ),
            data_dir="PATH/TO/IMAGES_AND_MASKS",
            task="segmentation",
        ),
    )
}

DEFAULT_DATA = "mnist"


@dataclass(frozen=True)
class TaskSpec:
    """What a project learns to do (`--task`), and the files in which it differs.

    Every other file (the engine, metrics base, handlers, checkpoints, run folders,
    torchrun) is the same for all tasks. A task's own files sit under
    templates/task/<name>/, in a tree of the same shape as templates/, and each
    takes the place of the file at the same path; its data kinds (DataSpec.task)
    and metrics (MetricSpec.tasks) bring the rest.
    """

    name: str
    summary: str
    data: str  # the data kind a project of this task takes by default
    metrics: tuple[str, ...]  # the metrics it takes by default
    trains: str  # what its train script does, for its --help
    net: str  # what its own network (--model net) is
    models: str  # torchvision models --model takes, for its --help
    files: tuple[str, ...] = ()


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            "classification",
            "a class per image: MNIST, or your own images in class folders",
            DEFAULT_DATA,
            DEFAULT_METRICS,
            trains="Train an image classifier",
            net="CNN",
            models="resnet18, mobilenet_v3_small, efficientnet_b0, convnext_tiny, ...",
        ),
        TaskSpec(
            "segmentation",
            "a class per pixel: your own images and their masks (U-Net, DeepLabV3)",
            "masks",
            DEFAULT_SEGMENTATION_METRICS,
            trains="Train a segmentation model",
            net="U-Net",
            models="lraspp_mobilenet_v3_large, deeplabv3_resnet50, fcn_resnet50, ...",
            files=(
                "task/segmentation/package/model/backbones.py",
                "task/segmentation/package/model/loss.py",
                "task/segmentation/package/model/net.py",
                "task/segmentation/package/predict.py.jinja",
            ),
        ),
    )
}

DEFAULT_TASK = "classification"


def task_metrics(task: str) -> tuple[str, ...]:
    """Every metric a project of `task` may take, in the canonical order."""
    return tuple(name for name, spec in METRICS.items() if task in spec.tasks)


# What the handlers and metrics packages of every project export, by module: for
# handlers, what train.py wires in (their errors stay in their own modules).
CORE_HANDLERS = {
    "history": ("History",),
    "nan_guard": ("check_finite_scores", "stop_on_non_finite_loss"),
}
CORE_METRICS = {
    "base": ("Metric", "NotComputableError"),
    "running_average": ("RunningAverage",),
}

# The types of arguments.py that the train flags of every project use.
CORE_FLAG_TYPES = (
    "available_device",
    "existing_file",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "seed",
    "writable_folder",
)

# Files every project holds, whatever the options.
CORE_FILES = (
    "README.md.jinja",
    "gitignore",
    "pyproject.toml.jinja",
    "package/__init__.py.jinja",
    "package/arguments.py",
    "package/config.py.jinja",
    "package/data/images.py",
    "package/data/loaders.py",
    "package/data/sizing.py",
    "package/engine/__init__.py",
    "package/engine/distributed.py.jinja",
    "package/engine/engine.py",
    "package/engine/events.py",
    "package/engine/sharding.py.jinja",
    "package/engine/supervised.py",
    "package/errors.py",
    "package/evaluate.py.jinja",
    "package/evaluation.py.jinja",
    "package/export.py.jinja",
    "package/handlers/__init__.py.jinja",
    "package/handlers/history.py",
    "package/handlers/nan_guard.py",
    "package/metrics/__init__.py.jinja",
    "package/metrics/base.py",
    "package/metrics/running_average.py",
    "package/model/__init__.py",
    "package/model/backbones.py",
    "package/model/build.py",
    "package/model/classifier.py",
    "package/model/loss.py",
    "package/model/net.py",
    "package/model/weights.py",
    "package/predict.py.jinja",
    "package/run_config.py.jinja",
    "package/run_folder.py",
    "package/train.py.jinja",
    "tests/conftest.py",
    "tests/test_distributed.py.jinja",
    "tests/test_engine.py.jinja",
    "tests/test_handlers.py.jinja",
    "tests/test_history.py.jinja",
    "tests/test_images.py.jinja",
    "tests/test_metrics.py.jinja",
    "tests/test_train.py.jinja",
)

# Where the generated files of earlier releases live now, as generated paths
# (`package/` standing for the package folder, `{data}` for the data kind):
# `scaffold update` merges the user's version of each into the file at its new path.
MOVED = {
    "package/engine.py": "package/engine/engine.py",
    "package/events.py": "package/engine/events.py",
    "package/supervised.py": "package/engine/supervised.py",
    "package/data.py": "package/data/{data}.py",
    "package/loaders.py": "package/data/loaders.py",
    "package/images.py": "package/data/images.py",
    "package/augment.py": "package/data/augment.py",
    "package/folders.py": "package/data/folders.py",
    "package/image_cache.py": "package/data/image_cache.py",
    "package/sources.py": "package/data/sources.py",
    "package/survey.py": "package/data/survey.py",
    "package/model.py": "package/model/net.py",
    "package/backbones.py": "package/model/backbones.py",
    "package/history.py": "package/handlers/history.py",
    "package/distributed.py": "package/engine/distributed.py",
}

# Template files whose generated name differs from their own, beyond `package/`:
# a `.gitignore` under templates/ would apply to this repository.
RENAMED = {"gitignore": ".gitignore"}

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
        "mlflow",
        "wandb",
        "optuna",
        "setuptools",
    }
)
