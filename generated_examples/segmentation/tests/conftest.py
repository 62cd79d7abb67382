"""Fixtures shared by the metric tests."""

import pytest


@pytest.fixture
def run_metric():
    """Feed (y_pred, y) batches to a fresh metric and return its value."""

    def run(metric, batches):
        metric.reset()
        for batch in batches:
            metric.update(batch)
        return metric.compute()

    return run
