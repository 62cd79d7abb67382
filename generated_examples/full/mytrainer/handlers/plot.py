"""A PNG of the training curves: the loss and each metric, per epoch."""

import json
import math

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

COLUMNS = 3  # panels a row: seven curves make a 3 x 3 grid, not one long strip


def plot_history(history_path, image_path):
    """Plot every numeric column of a metrics.jsonl file against its epoch.

    One panel per column (train_loss, accuracy, ...), in rows of up to COLUMNS;
    the time column is left out. Uses matplotlib's Figure directly: no GUI backend
    and no global pyplot state.
    """
    rows = [json.loads(line) for line in history_path.read_text().splitlines()]
    if not rows:
        return None  # no epoch finished: nothing to draw
    epochs = [row["epoch"] for row in rows]
    names = [
        name
        for name, value in rows[0].items()
        if isinstance(value, float) and name != "seconds"
    ]
    columns = min(len(names), COLUMNS)
    grid_rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(4 * columns, 3.2 * grid_rows), layout="constrained")
    for index, name in enumerate(names):
        axes = figure.add_subplot(grid_rows, columns, index + 1)
        axes.plot(epochs, [row[name] for row in rows], marker="o")
        axes.set_title(name)
        axes.set_xlabel("epoch")
        # Epochs are whole numbers: no tick at epoch 1.5.
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    figure.savefig(image_path, dpi=100)
    return image_path
