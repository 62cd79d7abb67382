"""The frameworks we compare against, when installed: pytorch-ignite and Lightning."""

from __future__ import annotations

import importlib
import logging
import time
import warnings


def ignite_version() -> str | None:
    try:
        return importlib.import_module("ignite").__version__
    except ImportError:
        return None


def lightning():
    """The lightning package, or None. Its startup chatter is silenced."""
    try:
        import lightning as L
    except ImportError:
        return None
    warnings.filterwarnings("ignore", module="lightning")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return L


def lightning_trainer(L, lean: bool):
    """lean: no logger, checkpoints, progress bar or summary (its fastest setup)."""
    quiet = {"enable_progress_bar": False, "enable_model_summary": False}
    if lean:
        quiet.update(logger=False, enable_checkpointing=False)
    else:  # the defaults, minus writing files and the bar into the bench's output
        quiet.update(default_root_dir=_tmp_root())
    return L.Trainer(
        accelerator="cpu", devices=1, max_epochs=1, num_sanity_val_steps=0, **quiet
    )


_tmp = None


def _tmp_root():
    global _tmp
    import tempfile

    _tmp = _tmp or tempfile.TemporaryDirectory(prefix="bench-lightning-")
    return _tmp.name


class Batches:
    """A plain iterable of batches: fit() would take a list for several loaders."""

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


def lightning_seconds_per_batch(L, make_module, batches, lean=True, repeats=3):
    """Per-batch time of Trainer.fit without its fixed start-up cost: the slope
    between a run over all the batches and one over a quarter of them."""
    short, batches = Batches(batches[: len(batches) // 4]), Batches(batches)
    slopes = []
    for _ in range(repeats):
        times = []
        for data in (short, batches):
            trainer = lightning_trainer(L, lean)
            module = make_module()
            start = time.process_time()
            trainer.fit(module, train_dataloaders=data)
            times.append(time.process_time() - start)
        slopes.append((times[1] - times[0]) / (len(batches) - len(short)))
    return sorted(slopes)[len(slopes) // 2]
