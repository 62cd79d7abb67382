"""Train the network and evaluate it after every epoch.

    python -m mytrainer.train --data-dir DIR --epochs 5
    python -m mytrainer.train --data-dir DIR --model resnet18 --pretrained
    torchrun --nproc_per_node=2 -m mytrainer.train --data-dir DIR

The device, mixed precision and the number of processes are decided here, when the
program runs: a GPU is used when present (--device chooses), and under torchrun
every process trains its share of each batch. Progress goes to stdout, the metric
history to <output-dir>/metrics.jsonl and, when training ends, the model and what
predict needs to use it to <output-dir>/model.pt (see README.md for the rest).
"""

import random
import shlex
import sys

import torch
from torch.optim import AdamW
from torch.optim.lr_scheduler import CosineAnnealingLR, OneCycleLR, StepLR

from .config import parse_args
from .data import DataError, get_data
from .engine import Events, create_supervised_evaluator, create_supervised_trainer
from .engine.distributed import (
    broadcast_buffers,
    cleanup,
    get_rank,
    get_world_size,
    is_main_process,
    setup,
    sum_over_processes,
)
from .engine.sharding import gathered, saved_states, shard_model
from .errors import Interrupted, RunError, UsageError, fail
from .evaluation import by_class, validation_metrics
from .handlers import History, check_finite_scores, stop_on_non_finite_loss
from .metrics import RunningAverage
from .model import (
    ModelCard,
    build_model,
    check_batch_size,
    check_input_size,
    model_preprocessing,
    save_classes,
    save_model,
)
from .model.loss import loss_fn
from .run_config import write_config
from .run_folder import new_run_folder


def make_scheduler(args, optimizer, steps):
    """The learning rate schedule and the event it steps on (None: constant)."""
    if args.scheduler == "onecycle":
        # Warm-up then annealing over the whole run: high accuracy in few epochs.
        schedule = OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)
        return schedule, Events.ITERATION_COMPLETED(every=args.accumulate)
    if args.scheduler == "cosine":
        schedule = CosineAnnealingLR(optimizer, T_max=steps)
        return schedule, Events.ITERATION_COMPLETED(every=args.accumulate)
    if args.scheduler == "step":
        schedule = StepLR(optimizer, step_size=args.lr_step_epochs, gamma=args.lr_gamma)
        return schedule, Events.EPOCH_COMPLETED
    return None, None


def prepare_model(args, data, device):
    """The model that --model names, for the classes and images of `data`."""
    channels, size = data.preprocessing.channels, data.preprocessing.image_size
    model = build_model(
        args.model,
        len(data.classes),
        channels,
        args.pretrained,
        args.weights,
        width=args.width,
    )
    check_input_size(model, args.model, channels, size)
    check_batch_size(model, args.model, args.batch_size // get_world_size())
    if args.freeze_backbone:
        model.freeze()
    model = model.to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def make_optimizer(args, model, steps):
    """AdamW over the parameters that train, and the learning rate schedule over
    `steps` optimizer steps with the event it steps on (None: constant)."""
    # fused: one kernel updates every parameter; a loop cost 1 ms a CPU step.
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = AdamW(trained, lr=args.lr, weight_decay=args.weight_decay, fused=True)
    return optimizer, *make_scheduler(args, optimizer, steps)


def make_evaluator(model, classes, device):
    """The evaluator of validation_metrics, each metric checked against the classes
    before any training."""
    metrics = validation_metrics(len(classes), loss_fn)
    for name, metric in metrics.items():
        try:
            metric.check_classes(len(classes))
        except ValueError as error:
            raise DataError(f"metric {name}: {error}; see evaluation.py") from None
    return create_supervised_evaluator(model, metrics=metrics, device=device)


def report_progress(trainer, interval):
    """Show how training goes, from the main process: the others train quietly."""
    if not is_main_process():
        return
    log_loss_every(trainer, interval)


def log_loss_every(trainer, interval):
    """Print the training loss every `interval` iterations of each epoch: this
    process's running average over its own batches."""

    def step_in_epoch(engine):
        return (engine.state.iteration - 1) % engine.state.epoch_length + 1

    def at_interval(engine, _):
        return step_in_epoch(engine) % interval == 0

    def log_loss(engine):
        loss = float(engine.state.metrics["loss"])
        print(
            f"epoch {engine.state.epoch} "
            f"[{step_in_epoch(engine)}/{engine.state.epoch_length}] loss {loss:.4f}"
        )

    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(event_filter=at_interval), log_loss
    )


def main(argv=None):
    try:
        args = parse_args(argv)
        device = setup(args.device, args.backend)  # joins torchrun's processes, if any
        args.output_dir = args.output_dir or new_run_folder()  # one for all processes
        if is_main_process():
            print(f"run: {args.output_dir}")
        train(args, device)
    except RunError as error:
        fail(error)
    except KeyboardInterrupt:
        fail(Interrupted("interrupted before training began"))
    finally:
        cleanup()


def train(args, device, on_validation=()):
    """Train as `args` say on `device`, validating after every epoch, and return
    the History; `on_validation` handlers take (engine, record) after the others."""
    torch.manual_seed(args.seed)  # the same on every process: one initial model
    data = get_data(args, device, model_preprocessing(args.model, args.pretrained))
    model = prepare_model(args, data, device)
    card = ModelCard(args.model, data.classes, data.preprocessing, args.width)
    epoch_length = args.epoch_length or len(data.train)
    steps = args.epochs * epoch_length // args.accumulate  # optimizer steps
    if steps == 0:
        raise UsageError(
            f"argument --accumulate: {args.accumulate} is more than the run's "
            f"{args.epochs * epoch_length} iterations: the weights would never change"
        )
    # ddp wraps `model`, fsdp shards it in place (engine/sharding.py): the
    # optimizer, made after, steps what this process holds.
    training_module = shard_model(model, args.strategy)
    if args.compile:
        training_module = torch.compile(training_module)
    # From here on each process draws its own random numbers: torch's (dropout and
    # such) and those of Python's random module, for code of your own.
    torch.manual_seed(args.seed + get_rank())
    random.seed(args.seed + get_rank())
    optimizer, scheduler, scheduler_event = make_optimizer(args, model, steps)
    saved = saved_states(model, optimizer)  # whole, even when sharded
    # The precision config.py resolved --amp to on this device (off: float32).
    amp_dtype = None if args.amp == "off" else getattr(torch, args.amp)
    # float16 needs its loss scaled so that small gradients do not underflow.
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    trainer = create_supervised_trainer(
        training_module,
        optimizer,
        loss_fn,
        device=device,
        accumulation_steps=args.accumulate,
        clip_grad_norm=args.clip_grad_norm,
        amp_dtype=amp_dtype,
        scaler=scaler,
    )
    evaluator = make_evaluator(model, data.classes, device)
    running_loss = RunningAverage()
    running_loss.attach(trainer, "loss")
    # First at the end of every iteration, so that no later handler (a checkpoint)
    # ever sees the weights that a non-finite loss produced.
    trainer.add_event_handler(Events.ITERATION_COMPLETED, stop_on_non_finite_loss)
    if scheduler_event is not None:
        trainer.add_event_handler(scheduler_event, lambda _: scheduler.step())
    report_progress(trainer, args.log_interval)
    history = History(args.output_dir / "metrics.jsonl")
    # What runs after validation, in this order; each takes (engine, record).
    after_validation = []

    after_validation.extend(on_validation)

    @trainer.on(Events.EPOCH_COMPLETED)
    def end_epoch(engine):
        record = validate(engine, model, evaluator, data)
        weights = saved.model.state_dict()  # gathered from every process under fsdp
        if is_main_process():
            history.append(record)
            print_record(record)
            print_by_class(record)
            if history.newest_is_best(args.monitor, args.monitor_mode):
                epoch = engine.state.epoch
                save_model(args.output_dir / "model.pt", weights, card, epoch)
        for handler in after_validation:
            handler(engine, record)

    @trainer.on(Events.COMPLETED)
    def end_run(_):
        weights = saved.model.state_dict()
        if is_main_process():
            finish(args, weights, card, history)

    if is_main_process():  # every check has passed: the run starts
        write_config(args.output_dir / "config.json", args, data.preprocessing)
    try:
        trainer.run(data.train, max_epochs=args.epochs, epoch_length=epoch_length)
    except KeyboardInterrupt:
        raise Interrupted(stopped_at(trainer.state, args.output_dir)) from None
    return history


def validate(trainer, model, evaluator, data):
    """Evaluate the model and return the epoch's record, the same on every process:
    each evaluates its share, and the metrics sum over all of them."""
    broadcast_buffers(model)  # every process evaluates rank 0's model
    with gathered(model):
        metrics = evaluator.run(data.val).metrics
    train_loss = sum_over_processes([trainer.state.metrics["loss"]])[0]
    record = {
        "epoch": trainer.state.epoch,
        "train_loss": float(train_loss) / get_world_size(),
        "seconds": round(trainer.state.times["EPOCH_COMPLETED"], 3),
        **{name: by_class(v, data.classes) for name, v in metrics.items()},
    }
    check_finite_scores(record)
    return record


def finish(args, weights, card, history):
    """Save the last epoch's model beside the best one, and say how the run went."""
    epoch = history.rows[-1]["epoch"]
    last = save_model(args.output_dir / "last.pt", weights, card, epoch)
    save_classes(args.output_dir, card.classes)
    best = history.best(args.monitor, args.monitor_mode)
    print(f"best {args.monitor} {best[args.monitor]:.4f} at epoch {best['epoch']}")
    print(
        f"model: {args.output_dir / 'model.pt'} (epoch {best['epoch']}); last: {last}"
    )


def stopped_at(state, output_dir):
    """Where an interrupted run stopped and, when it has checkpoints, the command
    that continues it."""
    where = f"interrupted at epoch {state.epoch}, iteration {state.iteration}"
    checkpoints = output_dir / "checkpoints"
    if not checkpoints.is_dir() or not any(checkpoints.glob("*.pt")):
        return where
    flags = sys.argv[1:]
    if "--resume" in flags:  # continue from the newest checkpoint instead
        del flags[flags.index("--resume") : flags.index("--resume") + 2]
    if "--output-dir" not in flags:  # a new run would make a folder of its own
        flags += ["--output-dir", str(output_dir)]
    command = ["python", "-m", f"{__package__}.train", *flags, "--resume", "last"]
    return f"{where}; continue with: {shlex.join(command)}"


def print_by_class(record):
    """Each per-class score of the record as `class value` lines, and a confusion
    matrix as a row per true class of the counts predicted as each class."""
    for name, values in record.items():
        if not isinstance(values, dict) or len(values) > 20:
            continue  # a long one is in metrics.jsonl, too long to read in a log
        width = max(len(str(c)) for c in values)
        print(f"  {name} by class:")
        for true_class, value in values.items():
            if isinstance(value, dict):
                value = " ".join(f"{v:>6.4g}" for v in value.values())
            else:
                value = f"{value:.4f}"
            print(f"    {str(true_class).ljust(width)}  {value}")


def print_record(record):
    seconds = record["seconds"]
    print(f"epoch {record['epoch']} validation: {scores(record)}  ({seconds:.1f}s)")


def scores(record):
    """The record's one-number scores as `name value` pairs, on one line."""
    return "  ".join(
        f"{name} {value:.4f}"
        for name, value in record.items()
        if isinstance(value, float) and name != "seconds"
    )


if __name__ == "__main__":
    main()
