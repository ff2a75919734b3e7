"""Experiments: a frozen configuration in, a cached :class:`Result` out.

``run(Experiment(model="cnn", epochs=5, seed=1))`` trains once, stores the result, and
answers every later identical request from the store. The validation split is carved
with a fixed seed (0) whatever the experiment's seed, so every experiment validates on
the same images; the experiment's seed decides the initial weights, the shuffling and
dropout.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fmnist_edu import data as data_module
from fmnist_edu.errors import ConfigError
from fmnist_edu.models import build_model, count_parameters
from fmnist_edu.settings import default_device, profile
from fmnist_edu.store import ResultStore
from fmnist_edu.training import EpochStats, Evaluation, History, evaluate, seed_everything, train

CNN_FIELDS = ("kernel_size", "depth", "stride", "padding")
VALIDATION_SEED = 0


@dataclass(frozen=True)
class Experiment:
    """One training run, fully described. ``limit`` keeps that many training images."""

    model: str = "cnn"
    kernel_size: int = 3
    depth: int = 2
    stride: int = 1
    padding: str = "same"
    epochs: int = 10
    seed: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    limit: int | None = None
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.model not in ("mlp", "cnn"):
            raise ConfigError(f"model={self.model!r}: choose 'mlp' or 'cnn'")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit={self.limit}: must be a positive number of images")

    def model_options(self) -> dict[str, Any]:
        """Return the options :func:`build_model` takes (none for the MLP)."""
        return {f: getattr(self, f) for f in CNN_FIELDS} if self.model == "cnn" else {}

    def config(self) -> dict[str, Any]:
        """Return the fields that decide the result (CNN fields are dropped for the MLP)."""
        fields = dataclasses.asdict(self)
        if self.model == "mlp":
            for name in CNN_FIELDS:
                fields.pop(name)
        return fields

    def build(self) -> nn.Module:
        """Build the untrained model this experiment describes."""
        return build_model(self.model, **self.model_options())

    def label(self) -> str:
        """A short human-readable name, e.g. ``cnn k3 d2 s1 same``."""
        if self.model == "mlp":
            return "mlp"
        return f"cnn k{self.kernel_size} d{self.depth} s{self.stride} {self.padding}"


@dataclass
class Result:
    """What an experiment produced, and whether it came from the store."""

    experiment: Experiment
    history: History
    test: Evaluation
    parameters: int
    train_images: int
    val_images: int
    test_images: int
    device: str
    train_seconds: float
    state_dict: dict[str, torch.Tensor]
    from_store: bool = False

    def model(self) -> nn.Module:
        """Rebuild the trained model (on the CPU, in eval mode)."""
        model = self.experiment.build()
        model.load_state_dict(self.state_dict)
        return model.eval()

    def metrics(self) -> dict[str, Any]:
        """Everything but the weights and the experiment, as JSON-ready data."""
        skip = {"experiment", "state_dict", "from_store"}
        return {
            f.name: dataclasses.asdict(getattr(self, f.name))
            if dataclasses.is_dataclass(getattr(self, f.name))
            else getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in skip
        }


def _from_metrics(experiment: Experiment, metrics: dict[str, Any], state: dict) -> Result:
    metrics = dict(metrics)
    history = History([EpochStats(**e) for e in metrics.pop("history")["epochs"]])
    test = Evaluation(**metrics.pop("test"))
    return Result(experiment, history, test, state_dict=state, from_store=True, **metrics)


def prepare_splits(
    experiment: Experiment, dataset: data_module.FashionMNIST
) -> tuple[data_module.Split, data_module.Split]:
    """Return the (train, validation) splits an experiment trains and validates on."""
    train_split, val_split = data_module.train_val_split(
        dataset.train, experiment.val_fraction, seed=VALIDATION_SEED
    )
    if experiment.limit is not None:
        train_split = data_module.stratified_limit(train_split, experiment.limit, experiment.seed)
    return train_split, val_split


def run(
    experiment: Experiment,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    device: torch.device | None = None,
    progress: bool | None = None,
) -> Result:
    """Return the result of ``experiment``, from the store when it holds it, else by training."""
    dataset = dataset or data_module.load()
    store = store or ResultStore()
    key = store.key(experiment.config(), dataset.fingerprint)
    cached = store.load(key)
    if cached is not None:
        try:
            return _from_metrics(experiment, *cached)
        except (TypeError, KeyError, AttributeError) as exc:
            warnings.warn(
                f"results store entry {key} is damaged ({exc}); recomputing it", stacklevel=2
            )
    device = device or default_device()
    train_split, val_split = prepare_splits(experiment, dataset)
    seed_everything(experiment.seed)
    model = experiment.build()
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
    )
    result = Result(
        experiment=experiment,
        history=history,
        test=evaluate(model, dataset.test, device),
        parameters=count_parameters(model),
        train_images=len(train_split),
        val_images=len(val_split),
        test_images=len(dataset.test),
        device=str(device),
        train_seconds=time.perf_counter() - start,
        state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
    )
    store.save(key, result.metrics(), result.state_dict)
    return result


def run_seeds(
    experiment: Experiment,
    seeds: Iterable[int] | None = None,
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    **kwargs: Any,
) -> list[Result]:
    """Run ``experiment`` once per seed (default: the profile's seeds and epochs)."""
    if seeds is None:
        chosen = profile()
        seeds = chosen.seeds
        experiment = dataclasses.replace(experiment, epochs=chosen.epochs)
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
