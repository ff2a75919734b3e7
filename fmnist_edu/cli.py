"""The ``fmnist-edu`` command (also ``python -m fmnist_edu``).

Every subcommand takes ``--data-dir``. A user mistake (a missing folder, a corrupt file,
a bad option) prints one line, ``error: ...``, and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fmnist_edu import data, download, experiments, settings, summary
from fmnist_edu.errors import FmnistEduError
from fmnist_edu.store import ResultStore


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit with 1, like the rest."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(1, f"error: {message} (see '{self.prog} --help')\n")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--kernel-size", type=int, default=3)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--padding", choices=["same", "valid"], default="same")


def _add_experiment_options(p: argparse.ArgumentParser) -> None:
    _add_model_options(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="train on this many images")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``fmnist-edu`` command."""
    parser = _Parser(prog="fmnist-edu", description=__doc__.splitlines()[0])
    common = _Parser(add_help=False)
    common.add_argument("--data-dir", help="data folder (default: FMNIST_EDU_DATA, then data/)")
    sub = parser.add_subparsers(dest="command", required=True)

    data_p = sub.add_parser("data", help="fetch or describe the dataset")
    data_sub = data_p.add_subparsers(dest="action", required=True)
    download_p = data_sub.add_parser("download", parents=[common], help="fetch the release")
    download_p.add_argument(
        "--force", action="store_true", help="fetch even if the folder already holds a copy"
    )
    data_sub.add_parser("info", parents=[common], help="split sizes and class counts")

    models_p = sub.add_parser("models", help="describe the architectures")
    models_sub = models_p.add_subparsers(dest="action", required=True)
    summary_p = models_sub.add_parser("summary", parents=[common], help="per-layer table")
    _add_model_options(summary_p)

    for name, text in (("train", "train (or load from the store)"), ("evaluate", "evaluate")):
        p = sub.add_parser(name, parents=[common], help=f"{text} one model")
        _add_experiment_options(p)
    return parser


def _model_options(args: argparse.Namespace) -> dict:
    return {f: getattr(args, f) for f in experiments.CNN_FIELDS} if args.model == "cnn" else {}


def _experiment(args: argparse.Namespace) -> experiments.Experiment:
    return experiments.Experiment(
        model=args.model,
        epochs=args.epochs,
        seed=args.seed,
        limit=args.limit,
        **_model_options(args),
    )


def _data_info(args: argparse.Namespace) -> None:
    dataset = data.load(args.data_dir)
    print(f"source: {dataset.source} ({dataset.layout}), fingerprint {dataset.fingerprint}")
    width = max(len(n) for n in data.CLASS_NAMES)
    print(f"{'class':<{width + 4}}{'train':>8}{'test':>8}")
    counts = zip(dataset.train.class_counts(), dataset.test.class_counts(), strict=True)
    for i, (a, b) in enumerate(counts):
        print(f"{i:<3} {data.CLASS_NAMES[i]:<{width}}{a:>8,}{b:>8,}")
    print(f"{'total':<{width + 4}}{len(dataset.train):>8,}{len(dataset.test):>8,}")


def _train(args: argparse.Namespace, evaluate_only: bool) -> None:
    dataset = data.load(args.data_dir)
    experiment = _experiment(args)
    store = ResultStore()
    if evaluate_only and store.load(store.key(experiment.config(), dataset.fingerprint)) is None:
        raise FmnistEduError(
            f"{experiment.label()} (epochs={experiment.epochs}, seed={experiment.seed}) has not "
            "been trained on this data yet; run 'fmnist-edu train' with the same options first"
        )
    if not evaluate_only:
        print(f"training {experiment.label()} on {settings.default_device()} ...", flush=True)
    result = experiments.run(experiment, dataset, store)
    where = "from the results store" if result.from_store else f"{result.train_seconds:.1f} s"
    print(
        f"{experiment.label()}: {result.parameters:,} parameters, trained on "
        f"{result.train_images:,} images for {experiment.epochs} epochs ({where})"
    )
    print(f"test accuracy: {result.test.accuracy:.4f} on {result.test_images:,} images")
    if evaluate_only:
        for name, acc in zip(data.CLASS_NAMES, result.test.per_class_accuracy, strict=True):
            print(f"  {name:<12} {acc:.4f}")


def dispatch(args: argparse.Namespace) -> None:
    """Run the subcommand ``args`` describes."""
    if args.command == "data" and args.action == "download":
        folder = settings.data_dir(args.data_dir)
        if data.has_data(folder) and not args.force:
            print(f"{folder}: already holds a copy of Fashion-MNIST; nothing to download")
            return
        written = download.download_release(folder, overwrite=args.force)
        print(f"{folder}: {len(written)} file(s) downloaded, all four checked against MD5 sums")
    elif args.command == "data":
        _data_info(args)
    elif args.command == "models":
        model = experiments.Experiment(
            model=args.model,
            **(
                {f: getattr(args, f) for f in experiments.CNN_FIELDS} if args.model == "cnn" else {}
            ),
        ).build()
        print(summary.format_table(summary.summarize(model)))
    else:
        _train(args, evaluate_only=args.command == "evaluate")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the command, print one-line errors, return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        dispatch(args)
    except FmnistEduError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a results store or data folder that cannot be written
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
