"""PixelAccuracy, IoU and Dice against a small mask worked out by hand."""

import pytest
import torch

from mytrainer.metrics import NotComputableError
from mytrainer.metrics.segmentation import IGNORE_INDEX, Dice, IoU, PixelAccuracy

NUM_CLASSES = 4
# One 2x3 mask; its last pixel is ignored, and class 3 is neither true nor predicted.
# Of the 5 labelled pixels 3 are right. Class 0: 2 true, 1 predicted, 1 both;
# class 1: 2 true, 4 predicted, 2 both; class 2: 1 true, none predicted.
TRUE = torch.tensor([[[0, 0, 1], [1, 2, IGNORE_INDEX]]])
PREDICTED = torch.tensor([[[0, 1, 1], [1, 1, 0]]])


def scores_of(labels):
    """Class scores of shape (N, C, H, W) whose highest score is at `labels`."""
    return torch.eye(NUM_CLASSES)[labels].permute(0, 3, 1, 2).log_softmax(dim=1)


@pytest.fixture(params=["labels", "scores"])
def batch(request):
    y_pred = PREDICTED if request.param == "labels" else scores_of(PREDICTED)
    return y_pred, TRUE


def test_pixel_accuracy_counts_labelled_pixels_only(batch, run_metric):
    metric = PixelAccuracy(num_classes=NUM_CLASSES)
    assert run_metric(metric, [batch]) == pytest.approx(3 / 5)


def test_iou_per_class_and_its_mean_over_the_classes_present(batch, run_metric):
    # IoU: class 0: 1 / (2 + 1 - 1); class 1: 2 / (2 + 4 - 2); class 2: 0 / 1.
    per_class = run_metric(IoU(NUM_CLASSES), [batch])
    assert per_class.tolist() == pytest.approx([1 / 2, 1 / 2, 0, 0])
    mean = run_metric(IoU(NUM_CLASSES, average="macro"), [batch])
    assert mean == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)


def test_dice_per_class_and_its_mean_over_the_classes_present(batch, run_metric):
    # Dice: class 0: 2 * 1 / (2 + 1); class 1: 2 * 2 / (2 + 4); class 2: 0 / 1.
    per_class = run_metric(Dice(NUM_CLASSES), [batch])
    assert per_class.tolist() == pytest.approx([2 / 3, 2 / 3, 0, 0])
    mean = run_metric(Dice(NUM_CLASSES, average="macro"), [batch])
    assert mean == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_only_the_mean_is_one_number_to_monitor():
    assert PixelAccuracy().higher_is_better is True
    assert IoU(NUM_CLASSES, average="macro").higher_is_better is True
    assert IoU(NUM_CLASSES).higher_is_better is None
    assert Dice(NUM_CLASSES).higher_is_better is None


@pytest.mark.parametrize("make", [PixelAccuracy, IoU, Dice], ids=lambda m: m.__name__)
def test_ignored_pixels_count_nowhere(make, run_metric):
    metric = make(NUM_CLASSES)
    other_guess = PREDICTED.clone()
    other_guess[TRUE == IGNORE_INDEX] = 3
    expected = run_metric(metric, [(PREDICTED, TRUE)])
    torch.testing.assert_close(run_metric(metric, [(other_guess, TRUE)]), expected)
    all_ignored = torch.full_like(TRUE, IGNORE_INDEX)
    with pytest.raises(NotComputableError, match="must have at least one example"):
        run_metric(metric, [(PREDICTED, all_ignored)])


@pytest.mark.parametrize("make", [PixelAccuracy, IoU, Dice], ids=lambda m: m.__name__)
def test_the_sums_of_two_shares_make_the_value_of_all_the_data(make, run_metric):
    # What sync does across processes: each process sums its share of the batches,
    # and the sums of the shares add up to the sums over all of them.
    batches = [(PREDICTED, TRUE), (TRUE.clamp(max=3), TRUE), (PREDICTED, PREDICTED)]
    shares = [make(NUM_CLASSES), make(NUM_CLASSES)]
    for i, batch in enumerate(batches):
        shares[i % 2].update(batch)
    first, second = shares
    for name in first.accumulators:
        setattr(first, name, getattr(first, name) + getattr(second, name))
    expected = run_metric(make(NUM_CLASSES), batches)
    torch.testing.assert_close(first.compute(), expected)


@pytest.mark.parametrize(
    "y_pred, y, message",
    [
        (PREDICTED, TRUE.clamp(max=4), r"in \[0, 4\) or 255 \(ignored\) in y, got 4"),
        (PREDICTED * 5, TRUE, r"in \[0, 4\) in y_pred, got 5"),
        (PREDICTED.float(), TRUE, "expected y_pred of class scores"),
        (PREDICTED, TRUE.float(), "expected integer class indices in y"),
        (scores_of(PREDICTED)[:, :3], TRUE, r"expected y_pred of shape \(N, 4, H, W\)"),
    ],
)
def test_bad_input_is_rejected_naming_what_was_expected(y_pred, y, message):
    with pytest.raises(ValueError, match=message):
        IoU(NUM_CLASSES).update((y_pred, y))


def test_predicted_labels_need_the_number_of_classes():
    PixelAccuracy().update((scores_of(PREDICTED), TRUE))
    with pytest.raises(ValueError, match="expected num_classes"):
        PixelAccuracy().update((PREDICTED, TRUE))
