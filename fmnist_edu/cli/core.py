"""``data``, ``models``, ``train`` and ``evaluate``: the dataset and single models."""

from __future__ import annotations

import argparse
import sys

from fmnist_edu import data, download, experiments, settings, summary
from fmnist_edu.cli import options
from fmnist_edu.errors import FmnistEduError
from fmnist_edu.store import ResultStore


def data_download(args: argparse.Namespace) -> None:
    """``data download``: fetch the official release, or check the copy already there."""
    folder = settings.data_dir(args.data_dir)
    mirrors, deadline = settings.mirrors(args.mirror), settings.download_deadline(args.deadline)

    def progress(line: str) -> None:  # on stderr, so the report stays one line on stdout
        print(line, file=sys.stderr, flush=True)

    print(
        download.ensure_release(
            folder, force=args.force, mirrors=mirrors, deadline=deadline, progress=progress
        )
    )


def data_info(args: argparse.Namespace) -> None:
    """``data info``: where the data came from, and images per class and split."""
    dataset = data.load(args.data_dir)
    print(f"source: {dataset.source} ({dataset.layout}), fingerprint {dataset.fingerprint}")
    width = max(len(n) for n in data.CLASS_NAMES)
    print(f"{'class':<{width + 4}}{'train':>8}{'test':>8}")
    counts = zip(dataset.train.class_counts(), dataset.test.class_counts(), strict=True)
    for i, (a, b) in enumerate(counts):
        print(f"{i:<3} {data.CLASS_NAMES[i]:<{width}}{a:>8,}{b:>8,}")
    print(f"{'total':<{width + 4}}{len(dataset.train):>8,}{len(dataset.test):>8,}")


def models_summary(args: argparse.Namespace) -> None:
    """``models summary``: the per-layer table of one architecture."""
    print(summary.format_table(summary.summarize(options.experiment(args).build())))


def train(args: argparse.Namespace) -> None:
    """``train``: train one model, or load it from the results store."""
    dataset = data.load(args.data_dir)
    experiment = options.experiment(args)
    options.report(options.stored_or_trained(experiment, dataset))


def evaluate(args: argparse.Namespace) -> None:
    """``evaluate``: report a model already trained, per class; never trains."""
    dataset = data.load(args.data_dir)
    experiment = options.experiment(args)
    result = experiments.cached(experiment, dataset, ResultStore())
    if result is None:
        raise FmnistEduError(
            f"{experiment.label()} (epochs={experiment.epochs}, seed={experiment.seed}) has not "
            "been trained on this data yet; run 'fmnist-edu train' with the same options first"
        )
    options.report(result)
    for name, acc in zip(data.CLASS_NAMES, result.test.per_class_accuracy, strict=True):
        print(f"  {name:<12} {acc:.4f}")
