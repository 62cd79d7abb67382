"""Factories for the two engines of supervised learning: a trainer and an evaluator."""

import torch

from .engine import Engine, Events


def prepare_batch(batch, device=None, non_blocking=False):
    """Move an (inputs, targets) batch to the device (None: leave it where it is)."""
    x, y = batch
    if device is None:
        return x, y  # each .to() costs about a microsecond even when it moves nothing
    return (
        x.to(device, non_blocking=non_blocking),
        y.to(device, non_blocking=non_blocking),
    )


def create_supervised_trainer(
    model,
    optimizer,
    loss_fn,
    device=None,
    non_blocking=None,
    prepare_batch=prepare_batch,
    cuda=False,
    accumulation_steps=1,
    clip_grad_norm=None,
    amp_dtype=None,
    scaler=None,
):
    """An Engine that takes one optimizer step per `accumulation_steps` batches.

    Args:
        model: the network; it is put in training mode at the start of each epoch.
        optimizer: steps the model's parameters.
        loss_fn: loss_fn(model(x), y) -> scalar loss.
        device: where batches go (default: left where they are).
        non_blocking: copy batches asynchronously (default: when device is CUDA,
            which pays off with pinned-memory batches).
        prepare_batch: prepare_batch(batch, device, non_blocking) -> (x, y).
        cuda: the original ignite spelling of device="cuda".
        accumulation_steps: add up the gradients of this many batches (each loss
            divided by it) before one optimizer step: with equal batches, the
            step of one batch accumulation_steps times larger.
        clip_grad_norm: if given, scale the gradients down so that their total
            L2 norm is at most this, before each optimizer step.
        amp_dtype: run the forward pass under torch.autocast with this dtype
            (torch.bfloat16 or torch.float16); None runs in float32.
        scaler: a torch.amp.GradScaler, needed with float16 on CUDA so that
            small gradients do not underflow (default: a disabled one).

    The optimizer steps after iterations whose number is a multiple of
    accumulation_steps and then clears the gradients, so between two steps the
    parameters' .grad hold the sum so far (a checkpoint may save them).
    engine.state.output is the batch loss as a 0-dim tensor, detached: reading it
    never makes the training step wait for the device.
    """
    if cuda:
        device = "cuda"
    if non_blocking is None:
        non_blocking = device is not None and torch.device(device).type == "cuda"
    scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)

    def update(engine, batch):
        x, y = prepare_batch(batch, device, non_blocking)
        with torch.autocast(x.device.type, amp_dtype, enabled=amp_dtype is not None):
            loss = loss_fn(model(x), y)
        # Dividing by 1 would still cost an autograd node, ~10 us a step.
        scaled = loss / accumulation_steps if accumulation_steps > 1 else loss
        scaler.scale(scaled).backward()
        if engine.state.iteration % accumulation_steps == 0:
            scaler.unscale_(optimizer)  # clip the true gradients, not scaled ones
            if clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            scaler.step(optimizer)  # skipped when the fp16 gradients overflowed
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    trainer = Engine(update)
    # Once per epoch, not per step: model.train() walks every module (~5 us).
    trainer.add_event_handler(Events.EPOCH_STARTED, lambda _: model.train())
    return trainer


def create_supervised_evaluator(
    model,
    metrics=None,
    device=None,
    non_blocking=None,
    prepare_batch=prepare_batch,
    cuda=False,
):
    """An Engine that runs the model without gradients and feeds metrics.

    Each batch's output is (y_pred, y); every metric in `metrics` ({name: Metric})
    is attached, so `evaluator.run(loader).metrics[name]` holds its value. The
    model is switched to eval mode for the run and back to its previous mode after,
    so evaluating in the middle of a training epoch is safe.
    """
    if cuda:
        device = "cuda"
    if non_blocking is None:
        non_blocking = device is not None and torch.device(device).type == "cuda"

    @torch.inference_mode()
    def evaluate(engine, batch):
        x, y = prepare_batch(batch, device, non_blocking)
        return model(x), y

    evaluator = Engine(evaluate)
    was_training = model.training

    @evaluator.on(Events.STARTED)
    def enter_eval_mode(_):
        nonlocal was_training
        was_training = model.training
        model.eval()

    @evaluator.on(Events.COMPLETED)
    def restore_mode(_):
        model.train(was_training)

    for name, metric in (metrics or {}).items():
        metric.attach(evaluator, name)
    return evaluator
