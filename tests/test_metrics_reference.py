"""The generated metrics agree with scikit-learn on random inputs fed in random batches.

A project with every metric is rendered once; its `metrics` subpackage is imported
without running the package `__init__`, so these checks depend only on the metrics
and the engine they attach to. The generated project's own metric tests (one file
per metric module) are then run with pytest inside rendered projects.
"""

from __future__ import annotations

import importlib
import itertools
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from scaffold.options import Options
from scaffold.registry import (
    DEFAULT_METRICS,
    DEFAULT_SEGMENTATION_METRICS,
    METRICS,
    task_metrics,
)
from scaffold.render import render

pytestmark = pytest.mark.slow  # trains, or runs a generated program

PACKAGE = "refmetricspkg"  # unlikely to clash with anything already imported
SEGMENTATION_PACKAGE = "refsegmetricspkg"
TOLERANCE = 1e-6
AVERAGES = ("macro", "micro", "weighted", None)


def write_project(root: Path, options: Options) -> Path:
    for rel, text in render(options).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def import_metrics(root: Path, package_name: str) -> types.ModuleType:
    """The `metrics` subpackage of the project at root, its package `__init__`
    left unrun; `forget` removes it from sys.modules again."""
    package = types.ModuleType(package_name)
    package.__path__ = [str(root / package_name)]
    sys.modules[package_name] = package
    return importlib.import_module(f"{package_name}.metrics")


def forget(package_name: str) -> None:
    for name in [n for n in sys.modules if n.split(".")[0] == package_name]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def m(tmp_path_factory):
    """The generated `metrics` module of a project with every metric chosen."""
    root = write_project(
        tmp_path_factory.mktemp("all_metrics"),
        Options(name=PACKAGE, metrics=task_metrics("classification")),
    )
    try:
        yield import_metrics(root, PACKAGE)
    finally:
        forget(PACKAGE)


@pytest.fixture(scope="session")
def seg(tmp_path_factory):
    """The generated `metrics` module of a project with the segmentation metrics."""
    root = write_project(
        tmp_path_factory.mktemp("segmentation_metrics"),
        Options(name=SEGMENTATION_PACKAGE, task="segmentation"),
    )
    try:
        yield import_metrics(root, SEGMENTATION_PACKAGE)
    finally:
        forget(SEGMENTATION_PACKAGE)


# -- random inputs -----------------------------------------------------------


@st.composite
def batch_splits(draw, n: int) -> list[slice]:
    """Cut range(n) into consecutive batches: any mix of sizes, down to 1."""
    cuts = draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))
    bounds = [0] + [i + 1 for i, cut in enumerate(cuts) if cut] + [n]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


@st.composite
def classification_cases(draw, kind: str):
    """(y_pred, y, reference predicted labels, num_classes, batches) of one kind."""
    n = draw(st.integers(1, 40))
    num_classes = 2 if kind == "binary" else draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "multiclass":
        # Labels from a random subset of classes, so some classes never occur.
        present = rng.choice(num_classes, size=rng.integers(1, num_classes + 1))
        y = torch.from_numpy(rng.choice(present, size=n))
        y_pred = torch.from_numpy(rng.normal(size=(n, num_classes)))
        predicted = y_pred.argmax(dim=1).numpy()
    else:
        shape = (n,) if kind == "binary" else (n, num_classes)
        positive_rate = rng.choice([0.0, 0.2, 0.5, 1.0])
        y = torch.from_numpy((rng.random(shape) < positive_rate).astype(np.int64))
        # Probabilities: any in [0, 1], quarters (so exactly 0.5 occurs) or 0/1 labels.
        steps = draw(st.sampled_from([None, 4, 1]))
        y_pred = torch.from_numpy(rng.random(shape))
        if steps is not None:
            y_pred = (y_pred * steps).round() / steps
        predicted = (y_pred >= 0.5).long().numpy()
        if kind == "binary" and draw(st.booleans()):
            y_pred, y = y_pred[:, None], y[:, None].float()  # (N, 1) float targets
    return y_pred, y, predicted, num_classes, draw(batch_splits(n))


def feed(metric, y_pred, y, batches):
    metric.reset()
    for batch in batches:
        metric.update((y_pred[batch], y[batch]))
    return metric.compute()


def close(actual, expected):
    actual = actual.numpy() if isinstance(actual, torch.Tensor) else actual
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


def sklearn_score(name, y_true, y_pred, **kwargs):
    function = {
        "Precision": skm.precision_score,
        "Recall": skm.recall_score,
        "F1": skm.f1_score,
    }[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a label absent from both arrays
        return function(y_true, y_pred, zero_division=0, **kwargs)


# -- comparisons -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_accuracy_precision_recall_f1_match_sklearn(m, kind, data):
    y_pred, y, predicted, num_classes, batches = data.draw(classification_cases(kind))
    multilabel = kind == "multilabel"
    y_true = y.long().numpy().reshape(predicted.shape)
    labels = list(range(num_classes))

    close(
        feed(m.Accuracy(is_multilabel=multilabel), y_pred, y, batches),
        skm.accuracy_score(y_true, predicted),
    )
    for name in ("Precision", "Recall", "F1"):
        averages = AVERAGES + (
            ("binary",) if num_classes == 2 and not multilabel else ()
        )
        for average in averages:
            metric = getattr(m, name)(average=average, is_multilabel=multilabel)
            expected = sklearn_score(
                name,
                y_true,
                predicted,
                average=average,
                labels=None if average == "binary" else labels,
            )
            close(feed(metric, y_pred, y, batches), expected)


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_topk_and_confusion_match_sklearn(m, data):
    y_pred, y, predicted, num_classes, batches = data.draw(
        classification_cases("multiclass")
    )
    labels = list(range(num_classes))
    for k in range(1, num_classes):
        # sklearn reads 2-column scores as binary, where top-1 is plain accuracy.
        if num_classes > 2:
            expected = skm.top_k_accuracy_score(y, y_pred, k=k, labels=labels)
        else:
            expected = skm.accuracy_score(y, predicted)
        close(feed(m.TopKAccuracy(k=k), y_pred, y, batches), expected)
    close(feed(m.TopKAccuracy(k=num_classes), y_pred, y, batches), 1.0)
    for normalize in (None, "true", "pred", "all"):
        metric = m.ConfusionMatrix(num_classes, normalize=normalize)
        matrix = feed(metric, y_pred, y, batches)
        expected = skm.confusion_matrix(
            y, predicted, labels=labels, normalize=normalize
        )
        close(matrix, expected)
        assert matrix.dtype == (torch.int64 if normalize is None else torch.float64)


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_loss_is_the_per_example_mean_like_sklearn_log_loss(m, data):
    y_pred, y, _, num_classes, batches = data.draw(classification_cases("multiclass"))
    probabilities = y_pred.softmax(dim=1)
    expected = skm.log_loss(y, probabilities, labels=list(range(num_classes)))
    close(feed(m.Loss(F.nll_loss), probabilities.log(), y, batches), expected)


@st.composite
def segmentation_cases(draw):
    """(y_pred, y, num_classes, batches): class scores or labels for N masks whose
    true and predicted classes come from random subsets (so some classes are
    absent from either or both), some pixels ignored, and one labelled at least."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, height, width = (draw(st.integers(1, 6)) for _ in range(3))
    num_classes = draw(st.integers(2, 6))
    shape = (n, height, width)
    true_classes = rng.choice(num_classes, size=rng.integers(1, num_classes + 1))
    y = rng.choice(true_classes, size=shape)
    ignored = rng.random(shape) < rng.choice([0.0, 0.3, 0.9])
    ignored.flat[rng.integers(ignored.size)] = False
    y[ignored] = 255
    if draw(st.booleans()):
        y_pred = torch.from_numpy(rng.normal(size=(n, num_classes, height, width)))
        y_pred = y_pred.log_softmax(dim=1)
    else:
        predicted = rng.choice(num_classes, size=rng.integers(1, num_classes + 1))
        y_pred = torch.from_numpy(rng.choice(predicted, size=shape))
    return y_pred, torch.from_numpy(y), num_classes, draw(batch_splits(n))


def labelled_pixels(y_pred, y):
    """sklearn's input: the flattened true and predicted classes, ignored removed."""
    predicted = y_pred.argmax(dim=1) if y_pred.ndim == 4 else y_pred
    kept = y != 255
    return y[kept].numpy(), predicted[kept].numpy()


@settings(max_examples=100, deadline=None)
@given(case=segmentation_cases())
def test_segmentation_metrics_match_sklearn_on_the_labelled_pixels(seg, case):
    y_pred, y, num_classes, batches = case
    y_true, predicted = labelled_pixels(y_pred, y)
    labels = list(range(num_classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class absent from truth and prediction
        expected = {
            "IoU": (
                skm.jaccard_score(y_true, predicted, average=None, labels=labels),
                skm.jaccard_score(y_true, predicted, average="macro"),
            ),
            "Dice": (
                skm.f1_score(y_true, predicted, average=None, labels=labels),
                skm.f1_score(y_true, predicted, average="macro"),
            ),
        }
    close(
        feed(seg.PixelAccuracy(num_classes), y_pred, y, batches),
        skm.accuracy_score(y_true, predicted),
    )
    for name, (per_class, mean) in expected.items():
        metric = getattr(seg, name)
        close(feed(metric(num_classes), y_pred, y, batches), per_class)
        close(feed(metric(num_classes, average="macro"), y_pred, y, batches), mean)


@settings(max_examples=50, deadline=None)
@given(case=segmentation_cases())
def test_segmentation_loss_is_the_mean_per_labelled_pixel(seg, case):
    y_pred, y, num_classes, batches = case
    # A batch of ignored pixels only has no mean loss (nll_loss gives NaN).
    assume(y_pred.ndim == 4 and all((y[b] != 255).any() for b in batches))
    y_true, _ = labelled_pixels(y_pred, y)
    kept_probabilities = y_pred.exp().permute(0, 2, 3, 1)[y != 255]
    expected = skm.log_loss(y_true, kept_probabilities, labels=list(range(num_classes)))
    # The project's own loss, averaged as its validation_metrics average it.
    project_loss = importlib.import_module(f"{SEGMENTATION_PACKAGE}.model.loss")
    loss = seg.Loss(project_loss.loss_fn, batch_size=project_loss.count_targets)
    close(feed(loss, y_pred, y, batches), expected)


# -- behaviour beyond the reference ------------------------------------------


def test_attached_metrics_give_evaluator_run_its_metrics(m):
    engine_module = importlib.import_module(f"{PACKAGE}.engine")
    y_pred = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    y = torch.tensor([0, 0, 0])
    evaluator = engine_module.Engine(lambda engine, batch: batch)
    m.CategoricalAccuracy().attach(evaluator, "accuracy")
    m.Loss(F.cross_entropy).attach(evaluator, "nll")
    state = evaluator.run([(y_pred[:2], y[:2]), (y_pred[2:], y[2:])])
    assert state.metrics["accuracy"] == pytest.approx(2 / 3)
    assert state.metrics["nll"] == pytest.approx(F.cross_entropy(y_pred, y).item())


def test_every_accumulator_is_a_float64_tensor_on_the_metric_device(m):
    y_pred, y = torch.rand(5, 4), torch.tensor([0, 1, 3, 3, 2])
    for metric in [
        m.Accuracy(),
        m.Loss(F.cross_entropy),
        m.Precision(average=None),
        m.TopKAccuracy(k=2),
        m.ConfusionMatrix(4),
    ]:
        assert metric.accumulators
        metric.update((y_pred, y))
        for name in metric.accumulators:
            state = getattr(metric, name)
            assert state.dtype == torch.float64 and state.device == metric.device


@pytest.mark.parametrize(
    "make, output, message",
    [
        (
            lambda m: m.Accuracy(),
            (torch.rand(3, 2), torch.tensor([[0], [1], [1]])),
            r"expected y_pred of shape \(N,\) or \(N, 1\) .* got y_pred \(3, 2\) and y",
        ),
        (
            lambda m: m.Accuracy(),
            (torch.tensor([1.5, 0.2]), torch.tensor([1, 0])),
            r"outside \[0, 1\]",
        ),
        (
            lambda m: m.Accuracy(is_multilabel=True),
            (torch.rand(3, 2), torch.ones(3, 3)),
            r"expected y_pred and y of the same shape \(N, C\)",
        ),
        (
            lambda m: m.Recall(),
            (torch.rand(2, 3), torch.tensor([0, 3])),
            r"expected class labels in \[0, 3\), got labels from 0 to 3",
        ),
        (
            lambda m: m.ConfusionMatrix(3),
            (torch.rand(2, 4), torch.tensor([0, 1])),
            r"expected y_pred of shape \(N, 3\) or \(N,\)",
        ),
    ],
)
def test_bad_input_is_rejected_with_what_was_expected(m, make, output, message):
    with pytest.raises(ValueError, match=message):
        make(m).update(output)


def test_class_count_must_not_change_between_batches(m):
    precision = m.Precision()
    precision.update((torch.rand(2, 3), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="expected 3 classes as in earlier batches"):
        precision.update((torch.rand(2, 4), torch.tensor([0, 1])))


def test_running_average_keeps_a_tensor_and_starts_from_the_first_value(m):
    average = m.RunningAverage()
    values = [3.0, 1.0, 2.0]
    expected = values[0]
    for value in values:
        average.update(torch.tensor(value))
    for value in values[1:]:
        expected = 0.98 * expected + 0.02 * value
    assert isinstance(average.compute(), torch.Tensor)
    assert float(average.compute()) == pytest.approx(expected)


# -- the generated project's own tests ---------------------------------------


def metric_test_files(metrics) -> list[str]:
    """The generated project's tests of `metrics`: one file per metric module, and
    the tests of what every metric shares."""
    files = {"tests/test_metrics.py"}
    for name in metrics:
        files.update(
            path.removesuffix(".jinja")
            for path in METRICS[name].files
            if path.startswith("tests/")
        )
    return sorted(files)


def test_generated_metric_tests_pass_for_all_and_for_the_default_metrics(tmp_path):
    # One pytest per project, run side by side: most of their time is importing torch.
    runs = {}
    for label, metrics in [
        ("all", task_metrics("classification")),
        ("default", DEFAULT_METRICS),
        ("segmentation", DEFAULT_SEGMENTATION_METRICS),
    ]:
        task = METRICS[metrics[0]].tasks[-1]
        root = write_project(
            tmp_path / label, Options(name="mytrainer", task=task, metrics=metrics)
        )
        files = metric_test_files(metrics)
        assert all((root / path).is_file() for path in files), files
        runs[label] = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    for label, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{label} metrics:\n{output}"
        assert " passed" in output and "skipped" not in output, output
