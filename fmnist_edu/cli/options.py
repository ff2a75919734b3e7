"""The options shared by the subcommands, and the one way they train or load a model."""

from __future__ import annotations

import argparse

from fmnist_edu import data, experiments, settings
from fmnist_edu.store import ResultStore
from fmnist_edu.training import AUGMENTATIONS


def whole_number(text: str) -> int:
    """Parse an integer option; ranges are checked by :class:`experiments.Experiment`."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def number(text: str) -> float:
    """Parse a number option (``type=`` for argparse)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def widths(text: str) -> tuple[int, ...]:
    """Parse ``512,256`` into ``(512, 256)``."""
    try:
        return tuple(int(w) for w in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of widths like 512,256"
        ) from None


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add the options that choose an architecture (``--model``, the CNN's, ``--hidden``)."""
    p.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--kernel-size", type=whole_number, default=3, help="CNN: 1 to 27")
    p.add_argument("--depth", type=whole_number, default=2, help="CNN: conv blocks, 1 to 4")
    p.add_argument("--stride", type=whole_number, default=1, help="CNN: convolution stride")
    p.add_argument("--padding", choices=["same", "valid"], default="same", help="CNN padding")
    p.add_argument(
        "--convs-per-block", type=whole_number, default=1, help="CNN: stacked convolutions, 1-4"
    )
    p.add_argument(
        "--downsample",
        choices=["pool", "stride"],
        default="pool",
        help="CNN: halve each block by 2x2 max-pooling or by a stride-2 convolution",
    )
    p.add_argument(
        "--hidden",
        type=widths,
        default=None,
        help="dense widths, e.g. 512,256 for the MLP or 256 for the CNN (default: 128,64 / 128)",
    )


def add_experiment_options(p: argparse.ArgumentParser) -> None:
    """Add the model options and those of one training run (epochs, seed, ...)."""
    add_model_options(p)
    profiles = ", ".join(f"{p.epochs} {p.name}" for p in settings.PROFILES.values())
    p.add_argument(
        "--epochs",
        type=whole_number,
        default=None,
        help=f"1 to 10,000 (default: the profile's, FMNIST_EDU_PROFILE: {profiles})",
    )
    p.add_argument("--seed", type=whole_number, default=0, help="0 to 2**63 - 1 (default: 0)")
    p.add_argument(
        "--batch-size",
        type=whole_number,
        default=experiments.Experiment.batch_size,
        help=f"images per step (default: {experiments.Experiment.batch_size})",
    )
    p.add_argument(
        "--lr",
        type=number,
        default=experiments.Experiment.lr,
        help=f"Adam's rate (default: {experiments.Experiment.lr})",
    )
    p.add_argument("--limit", type=whole_number, default=None, help="train on this many images")
    p.add_argument(
        "--augment",
        choices=list(AUGMENTATIONS),
        default="none",
        help="'shift': move each training image by up to 2 pixels each way",
    )
    p.add_argument(
        "--labels",
        choices=list(experiments.LABELS),
        default="true",
        help="'shuffled': train on training labels permuted by the seed (learns nothing true)",
    )
    p.add_argument(
        "--permute",
        type=whole_number,
        default=None,
        metavar="SEED",
        help="shuffle the 784 pixels of every image by the permutation this seed draws",
    )
    p.add_argument(
        "--relabel",
        action="store_true",
        help="MLP with --permute: start from the unpermuted run's weights, relabelled",
    )


def experiment(args: argparse.Namespace) -> experiments.Experiment:
    """The experiment the options describe (the CNN's options are ignored for the MLP)."""
    options = {f: getattr(args, f) for f in experiments.CNN_FIELDS} if args.model == "cnn" else {}
    for name in ("epochs", "seed", "batch_size", "lr", "limit", "augment", "labels", "permute",
                 "relabel"):  # fmt: skip
        if hasattr(args, name):
            options[name] = getattr(args, name)
    return experiments.Experiment(model=args.model, hidden=args.hidden, **options)


def report(result: experiments.Result) -> None:
    """Print one result: its model, training, where it came from, its test accuracy."""
    experiment = result.experiment
    where = "from the results store" if result.from_store else f"{result.train_seconds:.1f} s"
    print(
        f"{experiment.label()}: {result.parameters:,} parameters, trained on "
        f"{result.train_images:,} images for {experiment.epochs} epochs ({where})"
    )
    print(f"test accuracy: {result.test.accuracy:.4f} on {result.test_images:,} images")


def stored_or_trained(
    experiment: experiments.Experiment, dataset: data.FashionMNIST
) -> experiments.Result:
    """Load ``experiment`` from the store, else train it (checking the store first)."""
    store = ResultStore()
    result = experiments.cached(experiment, dataset, store)
    if result is None:
        store.check_writable()  # before training, not after
        print(f"training {experiment.label()} on {settings.default_device()} ...", flush=True)
        result = experiments.run(experiment, dataset, store)
    return result
