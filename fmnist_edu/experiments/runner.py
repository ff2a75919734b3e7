"""Running experiments: train once, store, and answer every later identical request.

``run(Experiment(model="cnn", epochs=5, seed=1))`` trains once, stores the result, and
answers every later identical request from the store. The validation split is carved
with a fixed seed (0) whatever the experiment's seed, so every experiment validates on
the same images; the experiment's seed decides the initial weights, the shuffling,
dropout, the augmentation's random shifts and, for ``labels="shuffled"``, the permutation
of the training labels.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from fmnist_edu import data as data_module
from fmnist_edu import models, permutation, registry
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments.config import VALIDATION_SEED, Experiment
from fmnist_edu.experiments.stored import Result, cached, save
from fmnist_edu.settings import default_device, profile
from fmnist_edu.store import ResultStore
from fmnist_edu.training import derived_seed, evaluate, seed_everything, train


def prepare_splits(
    experiment: Experiment, dataset: data_module.FashionMNIST
) -> tuple[data_module.Split, data_module.Split]:
    """Return the (train, validation) splits an experiment trains and validates on.

    With ``labels="shuffled"`` the training labels are permuted (the validation split keeps
    its true labels, so validation accuracy shows that nothing generalises). With
    ``permute``, the pixels of both splits are permuted.
    """
    train_split, val_split = data_module.train_val_split(
        dataset.train, experiment.val_fraction, seed=VALIDATION_SEED
    )
    if experiment.limit is not None:
        train_split = data_module.stratified_limit(train_split, experiment.limit, experiment.seed)
    if experiment.labels == "shuffled":
        generator = torch.Generator().manual_seed(derived_seed(experiment.seed, "labels"))
        order = torch.randperm(len(train_split), generator=generator)
        train_split = data_module.Split(train_split.images, train_split.labels[order])
    if experiment.permute is not None:
        pixels = permutation.pixel_permutation(experiment.permute)
        train_split = permutation.permute_split(train_split, pixels)
        val_split = permutation.permute_split(val_split, pixels)
    return train_split, val_split


def evaluation_split(
    experiment: Experiment, dataset: data_module.FashionMNIST
) -> data_module.Split:
    """Return the test images an experiment is evaluated on (pixels permuted with ``permute``).

    Use it to test a stored model again (e.g. :func:`fmnist_edu.comparison.correctness`):
    a model trained on permuted pixels must be shown its test images permuted the same way.
    """
    if experiment.permute is None:
        return dataset.test
    pixels = permutation.pixel_permutation(experiment.permute)
    return permutation.permute_split(dataset.test, pixels)


def compute(
    experiment: Experiment,
    dataset: data_module.FashionMNIST,
    device: torch.device | None = None,
    progress: bool | None = None,
) -> Result:
    """Train ``experiment`` on ``dataset`` and return its result; no store is read or written.

    This is what a worker of a grid runs (see :func:`fmnist_edu.grid.run_grid`): the
    caller stores the result, so workers need no shared folder. Use :func:`run` otherwise.
    """
    device = device or default_device()
    train_split, val_split = prepare_splits(experiment, dataset)
    seed_everything(experiment.seed)  # before the build: the seed sets the initial weights
    model = experiment.build()
    if experiment.custom:
        registry.check_io(model, experiment.model)
    if experiment.relabel:  # the unpermuted run's initial weights, relabelled
        permutation.relabel_first_layer(model, permutation.pixel_permutation(experiment.permute))
    start = time.perf_counter()
    history = train(
        model,
        train_split,
        val_split,
        epochs=experiment.epochs,
        batch_size=experiment.batch_size,
        lr=experiment.lr,
        seed=experiment.seed,
        device=device,
        progress=progress,
        augment=experiment.augment,
        validate=experiment.validate,
    )
    return Result(
        experiment=experiment,
        history=history,
        test=evaluate(model, evaluation_split(experiment, dataset), device),
        parameters=models.count_parameters(model),
        train_images=len(train_split),
        val_images=len(val_split),
        test_images=len(dataset.test),
        device=str(device),
        train_seconds=time.perf_counter() - start,
        state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
    )


def run(
    experiment: Experiment,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    device: torch.device | None = None,
    progress: bool | None = None,
) -> Result:
    """Return the result of ``experiment``, from the store when it holds it, else by training.

    Before training, the store is checked to be writable (:meth:`ResultStore.check_writable`)
    so a run is never wasted; a result that still cannot be stored is returned with a
    warning.
    """
    dataset = dataset or data_module.load()
    store = store or ResultStore()
    result = cached(experiment, dataset, store)
    if result is not None:
        return result
    store.check_writable()
    result = compute(experiment, dataset, device, progress)
    save(result, dataset, store)
    return result


def run_seeds(
    experiment: Experiment,
    seeds: Iterable[int] | None = None,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    **kwargs: Any,
) -> list[Result]:
    """Run ``experiment`` once per seed and return the results in the seeds' order.

    Args:
        experiment: the run; its ``seed`` is replaced by each of ``seeds``. Its
            ``epochs`` are kept as they are (an ``Experiment`` made without ``epochs``
            already holds the profile's).
        seeds: the seeds; default: the profile's (``FMNIST_EDU_PROFILE``: 0-4 for
            ``full``, 0-2 for ``quick``).
        dataset, store: as for :func:`run`; ``kwargs`` go to :func:`run`.
    """
    if seeds is None:
        seeds = profile().seeds
    seeds = list(seeds)
    if not seeds:
        raise ConfigError("seeds=[]: give at least one seed")
    dataset = dataset or data_module.load()
    return [run(dataclasses.replace(experiment, seed=s), dataset, store, **kwargs) for s in seeds]


@dataclass(frozen=True)
class SeedSummary:
    """Mean and sample standard deviation of a metric over seeds."""

    mean: float
    std: float
    n: int
    values: tuple[float, ...]


def summarize_seeds(values: Iterable[float]) -> SeedSummary:
    """Return the mean and spread of per-seed values (std is 0 for a single seed)."""
    values = tuple(values)
    if not values:
        raise ConfigError("summarize_seeds needs at least one value")
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return SeedSummary(statistics.fmean(values), std, len(values), values)
