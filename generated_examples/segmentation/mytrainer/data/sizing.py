"""The batch size and the number of epochs where the command line leaves them out:
the recipe's (batches of 128, one epoch) on a large training set; on a small one,
smaller batches and more epochs, so that the model takes enough optimizer steps.

150 images in batches of 128 are two steps an epoch: a backbone trained from
scratch then validates on BatchNorm statistics of two batches and scores at chance.
"""

import math

from ..engine.distributed import get_world_size, is_main_process

BATCH_SIZE = 128  # the recipe's, tuned on MNIST's 60,000 images
SMALLEST_BATCH = 8  # smaller batches make BatchNorm's statistics mostly noise
STEPS_PER_EPOCH = 25  # a smaller training set is a small one
SMALL_RUN_STEPS = 100  # optimizer steps a small training set gets over the run
MOST_EPOCHS = 10  # of a tiny training set, before the user asks for more


def fit_to_data(args, count):
    """Fill in args.batch_size and args.epochs where they are None, for `count`
    training samples; on a small training set, say in one line what was chosen."""
    small = count < STEPS_PER_EPOCH * BATCH_SIZE
    chosen = []
    if args.batch_size is None:
        args.batch_size = batch_size_for(count) if small else BATCH_SIZE
        if args.batch_size != BATCH_SIZE:
            chosen.append(f"batches of {args.batch_size}")
    if args.epochs is None:
        args.epochs = 1
        if small and args.epoch_length is None:
            steps = math.ceil(count / args.batch_size)
            args.epochs = min(math.ceil(SMALL_RUN_STEPS / steps), MOST_EPOCHS)
        if args.epochs != 1:
            chosen.append(f"{args.epochs} epochs")
    if chosen and is_main_process():
        print(
            f"data: {count} training samples, a small set: {' and '.join(chosen)} "
            "(--batch-size and --epochs choose otherwise)"
        )


def batch_size_for(count):
    """The largest power of two up to BATCH_SIZE that gives STEPS_PER_EPOCH steps
    an epoch (at least SMALLEST_BATCH), a multiple of the processes sharing it."""
    size = BATCH_SIZE
    while size > SMALLEST_BATCH and count / size < STEPS_PER_EPOCH:
        size //= 2
    processes = get_world_size()
    return max(processes, size // processes * processes)
