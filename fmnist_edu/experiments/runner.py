"""Running experiments: train once, store, and answer every later identical request.

``run(Experiment(model="cnn", epochs=5, seed=1))`` trains once, stores the result, and
answers every later identical request from the store. The validation split is carved
with a fixed seed (0) whatever the experiment's seed, so every experiment validates on
the same images; the experiment's seed decides the initial weights, the shuffling,
dropout, the augmentation's random shifts and, for ``labels="shuffled"``, the permutation
of the training labels.

:func:`run_seeds` (and :func:`fmnist_edu.grid.run_grid`) can train the missing seeds of one
design together, as one batched model (:func:`compute_seeds`, :mod:`fmnist_edu.batched`),
where that was measured to pay (:data:`fmnist_edu.batched.PAYS`; nowhere yet, so
``FMNIST_EDU_TRAINER=batched`` asks for it). A batched seed equals its solo run within float
rounding, not bit for bit, and is stored under the same key as its solo run (the store
keeps one entry per seed); its ``device`` says it was batched. ``FMNIST_EDU_TRAINER=solo``
trains every seed alone, as :func:`run` does, whatever the device.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fmnist_edu import batched, models, permutation, registry, settings
from fmnist_edu import data as data_module
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments.config import VALIDATION_SEED, Experiment
from fmnist_edu.experiments.stored import Result, cached, save
from fmnist_edu.records import History
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
    model = initial_model(experiment)
    cpu_start = time.process_time()
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
    seconds = time.perf_counter() - start
    result = _result(experiment, dataset, model, history, (train_split, val_split), device, seconds)
    result.cpu_seconds = time.process_time() - cpu_start  # this process's threads, test included
    return result


def initial_model(experiment: Experiment) -> nn.Module:
    """Build ``experiment``'s untrained model, its initial weights set by its seed."""
    seed_everything(experiment.seed)  # before the build: the seed sets the initial weights
    model = experiment.build()
    if experiment.custom:
        registry.check_io(model, experiment.model)
    if experiment.relabel:  # the unpermuted run's initial weights, relabelled
        permutation.relabel_first_layer(model, permutation.pixel_permutation(experiment.permute))
    return model


def _result(
    experiment: Experiment,
    dataset: data_module.FashionMNIST,
    model: nn.Module,
    history: History,
    splits: tuple[data_module.Split, data_module.Split],
    device: torch.device,
    seconds: float,
    device_name: str | None = None,
) -> Result:
    return Result(
        experiment=experiment,
        history=history,
        test=evaluate(model, evaluation_split(experiment, dataset), device),
        parameters=models.count_parameters(model),
        train_images=len(splits[0]),
        val_images=len(splits[1]),
        test_images=len(dataset.test),
        device=device_name or str(device),
        train_seconds=seconds,
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


def batches(
    experiments: Sequence[Experiment],
    device: torch.device | None = None,
    trainer: str | None = None,
) -> bool:
    """Whether :func:`run_seeds` and the grid train ``experiments`` together, batched.

    They must be two or more seeds of one design of the book's MLP or CNN. Then
    ``trainer`` (default ``FMNIST_EDU_TRAINER``, see :func:`fmnist_edu.settings.trainer`)
    decides: ``"batched"`` always, ``"solo"`` never, ``"auto"`` where it was measured
    to pay (:data:`fmnist_edu.batched.PAYS`: not on a CPU; not yet measured on a GPU).
    """
    chosen = settings.trainer(trainer)
    if chosen == "solo" or len(experiments) < 2 or experiments[0].custom:
        return False
    design = dataclasses.replace(experiments[0], seed=0)
    if any(dataclasses.replace(e, seed=0) != design for e in experiments):
        return False
    if len({e.seed for e in experiments}) != len(experiments):
        return False
    device = torch.device(device) if device is not None else default_device()
    return chosen == "batched" or design.model in batched.PAYS.get(device.type, ())


def compute_seeds(
    experiments: Sequence[Experiment],
    dataset: data_module.FashionMNIST,
    device: torch.device | None = None,
    progress: bool | None = None,
) -> list[Result]:
    """Train the seeds of one design as one batched model (:mod:`fmnist_edu.batched`).

    Each result is that of :func:`compute` for its experiment, within float rounding (the
    batched kernels sum in another order); no store is read or written. Its ``device``
    reads e.g. ``"cuda (batched: 5 seeds)"`` and its ``train_seconds`` (and each epoch's
    ``seconds``) is its share, the batched run's time divided by the seeds.

    Raises:
        ConfigError: when the experiments are not seeds of one design (:func:`batches`
            with ``trainer="batched"``) or their models or splits differ in shape.
    """
    if not batches(experiments, device, "batched"):
        raise ConfigError("compute_seeds trains two or more seeds of one design of the MLP "
                          "or CNN; train the others with compute")  # fmt: skip
    device = torch.device(device) if device is not None else default_device()
    splits = [prepare_splits(e, dataset) for e in experiments]
    built = [initial_model(e) for e in experiments]
    first = experiments[0]
    cpu_start = time.process_time()
    start = time.perf_counter()
    histories = batched.train_seeds(
        built,
        [t for t, _ in splits],
        [v for _, v in splits],
        [e.seed for e in experiments],
        epochs=first.epochs,
        batch_size=first.batch_size,
        lr=first.lr,
        device=device,
        progress=progress,
        augment=first.augment,
        validate=first.validate,
    )
    share = (time.perf_counter() - start) / len(experiments)
    name = f"{device} (batched: {len(experiments)} seeds)"
    results = [
        _result(e, dataset, m, h, sp, device, share, name)
        for e, m, h, sp in zip(experiments, built, histories, splits, strict=True)
    ]
    cpu_share = (time.process_time() - cpu_start) / len(experiments)
    for result in results:
        result.cpu_seconds = cpu_share
    return results


def run_seeds(
    experiment: Experiment,
    seeds: Iterable[int] | None = None,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    trainer: str | None = None,
    **kwargs: Any,
) -> list[Result]:
    """Run ``experiment`` once per seed and return the results in the seeds' order.

    Seeds the store holds are loaded from it; the missing ones are trained together as
    one batched model when :func:`batches` says so (:func:`compute_seeds`), else one at
    a time with :func:`run`. Either way the store keeps one entry per seed, under the
    key of its solo run: a batched seed equals its solo run within float rounding, as a
    GPU's result equals a CPU's, and its ``device`` names the batched trainer.

    Args:
        experiment: the run; its ``seed`` is replaced by each of ``seeds``. Its
            ``epochs`` are kept as they are (an ``Experiment`` made without ``epochs``
            already holds the profile's).
        seeds: the seeds; default: the profile's (``FMNIST_EDU_PROFILE``: 0-4 for
            ``full``, 0-2 for ``quick``).
        dataset, store: as for :func:`run`; ``kwargs`` (``device``, ``progress``) go
            to :func:`run` or :func:`compute_seeds`.
        trainer: ``"auto"``, ``"solo"`` or ``"batched"``; default ``FMNIST_EDU_TRAINER``,
            else ``"auto"`` (see :func:`batches`).
    """
    if seeds is None:
        seeds = profile().seeds
    runs = [dataclasses.replace(experiment, seed=s) for s in seeds]
    if not runs:
        raise ConfigError("seeds=[]: give at least one seed")
    dataset = dataset or data_module.load()
    store = store or ResultStore()
    found = {r: cached(r, dataset, store) for r in dict.fromkeys(runs)}
    missing = [r for r, result in found.items() if result is None]
    if batches(missing, kwargs.get("device"), trainer):
        store.check_writable()
        for result in compute_seeds(missing, dataset, **kwargs):
            save(result, dataset, store)
            found[result.experiment] = result
    else:
        for r in missing:
            found[r] = run(r, dataset, store, **kwargs)
    return [found[r] for r in runs]  # type: ignore[misc]


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
