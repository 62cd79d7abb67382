"""TensorBoard event files: training loss and learning rate, and each epoch's metrics.

View them with `tensorboard --logdir runs/tensorboard`.
"""

from torch.utils.tensorboard import SummaryWriter

from ..engine import Events


class TensorBoardLogger:
    """Writes scalars to TensorBoard event files in `log_dir`, against the iteration.

    Every `every` iterations: train/loss (engine.state.metrics["loss"]) and
    train/lr (the optimizer's first parameter group), once attached. After each
    validation, epoch_completed(engine, record) writes every number in the
    epoch's record as validation/<name>.
    """

    def __init__(self, log_dir, optimizer, every=50):
        self.writer = SummaryWriter(log_dir)
        self.optimizer = optimizer
        self.every = every

    def attach(self, engine):
        engine.add_event_handler(
            Events.ITERATION_COMPLETED(every=self.every), self._log_training
        )
        engine.add_event_handler(Events.COMPLETED, lambda _: self.writer.close())

    def _log_training(self, engine):
        step = engine.state.iteration
        self.writer.add_scalar("train/loss", float(engine.state.metrics["loss"]), step)
        self.writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], step)

    def epoch_completed(self, engine, record):
        for name, value in record.items():
            if isinstance(value, float):
                tag = f"validation/{name}"
                self.writer.add_scalar(tag, value, engine.state.iteration)
        self.writer.flush()  # readable while training goes on
