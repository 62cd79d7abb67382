"""Measure a saved model on labelled data: the validation metrics of training.

    python -m mytrainer.evaluate --checkpoint runs/RUN/model.pt --data-dir DIR

The data flags are train's, and mean the same: the images measured are those a
run with the same flags validates on, prepared as the saved model was trained
(its preprocessing travels in the file). The scores are evaluation.py's, printed
as training prints them, per class too.
"""

import time

from .arguments import (
    ArgumentParser,
    HelpFormatter,
    add_saved_model_arguments,
    positive_int,
    seed,
)
from .data import DataError, get_data
from .data import add_arguments as add_data_arguments
from .errors import RunError, fail
from .evaluation import by_class
from .model import load_saved_model
from .train import make_evaluator, print_by_class, scores


def parse_args(argv=None):
    parser = ArgumentParser(
        description="Measure a model that train saved on the validation data.",
        formatter_class=HelpFormatter,
    )
    add_data_arguments(parser)
    add_saved_model_arguments(parser)
    parser.add_argument(
        "--eval-batch-size", type=positive_int, default=500, help="evaluation batch"
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="the --seed of the run, for --val-split"
    )
    args = parser.parse_args(argv)
    # What the data's training loader takes, left unused here.
    args.batch_size, args.epochs = args.eval_batch_size, 1
    return args


def evaluate(args):
    """The saved model's validation record, the same one training writes."""
    model, card = load_saved_model(args.checkpoint, args.device)
    data = get_data(args, args.device, card.preprocessing)
    if list(data.classes) != list(card.classes):
        raise DataError(
            f"the data's classes ({', '.join(map(str, data.classes))}) are not the "
            f"model's ({', '.join(map(str, card.classes))})"
        )
    started = time.perf_counter()
    metrics = make_evaluator(model, data.classes, args.device).run(data.val).metrics
    return {
        "seconds": round(time.perf_counter() - started, 3),
        **{name: by_class(value, data.classes) for name, value in metrics.items()},
    }


def main(argv=None):
    try:
        args = parse_args(argv)
        record = evaluate(args)
    except RunError as error:
        fail(error)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    print(f"{args.checkpoint}: {scores(record)}  ({record['seconds']:.1f}s)")
    print_by_class(record)


if __name__ == "__main__":
    main()
