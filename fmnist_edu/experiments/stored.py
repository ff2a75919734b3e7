"""Results: what an experiment produced, and how a stored one is read back and checked."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fmnist_edu import data as data_module
from fmnist_edu import models, records, registry
from fmnist_edu.errors import StoreError
from fmnist_edu.experiments.config import Experiment
from fmnist_edu.store import ResultStore
from fmnist_edu.training import Evaluation, History


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
    cpu_seconds: float | None = None
    """CPU time of this process for training and testing the run (``None`` when loaded)."""

    def model(self) -> nn.Module:
        """Rebuild the trained model (on the CPU, in eval mode)."""
        model = self.experiment.build()
        model.load_state_dict(self.state_dict)
        return model.eval()

    def metrics(self) -> dict[str, Any]:
        """Everything but the weights and the experiment, as JSON-ready data."""
        return {
            name: dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
            for name, value in ((f, getattr(self, f)) for f in _METRICS)
        }


_METRICS = tuple(
    f.name
    for f in dataclasses.fields(Result)
    if f.name not in ("experiment", "state_dict", "from_store", "cpu_seconds")
)


def _from_store(experiment: Experiment, metrics: dict[str, Any], state: dict) -> Result:
    """Rebuild a stored result, checking every field and that the weights fit the model.

    Raises ``ValueError`` (or ``RuntimeError`` from ``load_state_dict``) naming what is wrong.
    """
    if set(metrics) != set(_METRICS):
        raise ValueError(f"metrics: expected the fields {sorted(_METRICS)}, got {sorted(metrics)}")
    for name in ("parameters", "train_images", "val_images", "test_images"):
        value = metrics[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"metrics.{name}={value!r}: not a count")
    records.duration(metrics["train_seconds"], "metrics.train_seconds")
    if not isinstance(metrics["device"], str):
        raise ValueError(f"metrics.device={metrics['device']!r}: not a device name")
    history = History.from_dict(metrics["history"], "metrics.history")
    if len(history.epochs) != experiment.epochs:
        raise ValueError(f"metrics.history: {len(history.epochs)} epochs, not {experiment.epochs}")
    if history.validated() != records.validated_epochs(experiment.validate, experiment.epochs):
        raise ValueError(f"metrics.history: validated after epochs {history.validated()[:5]}, "
                         f"not as validate={experiment.validate!r} says")  # fmt: skip
    with torch.device("meta"):  # shapes only: no memory, no draw from the random generator
        model = experiment.build()
    model.load_state_dict(state, strict=True, assign=True)  # names and shapes must match
    if metrics["parameters"] != models.count_parameters(model):
        raise ValueError(f"metrics.parameters={metrics['parameters']}: the weights disagree")
    return Result(
        experiment,
        history,
        Evaluation.from_dict(metrics["test"], "metrics.test"),
        state_dict=state,
        from_store=True,
        **{name: metrics[name] for name in _METRICS if name not in ("history", "test")},
    )


def cached(
    experiment: Experiment, dataset: data_module.FashionMNIST, store: ResultStore
) -> Result | None:
    """Return the stored result of ``experiment`` on ``dataset``, or ``None`` (never trains).

    An entry whose contents are wrong in any way is set aside with a warning (see
    :meth:`ResultStore.set_aside`) and reported as absent.
    """
    if experiment.custom:  # wrong shapes are found before anything is trained
        state = torch.get_rng_state()  # a real build (user layers may lack meta kernels)
        try:
            registry.check_io(experiment.build(), experiment.model)
        finally:
            torch.set_rng_state(state)
    else:
        with torch.device("meta"):  # an impossible design is the user's error, not damage
            experiment.build()
    key = store.key(experiment.config(), dataset.fingerprint)
    loaded = store.load(key)
    if loaded is None:
        return None
    try:
        return _from_store(experiment, *loaded)
    except (ValueError, TypeError, RuntimeError) as exc:
        store.set_aside(key, str(exc))
        return None


def save(result: Result, dataset: data_module.FashionMNIST, store: ResultStore) -> None:
    """Store ``result``, or warn (never raise) when the store cannot hold it."""
    try:
        key = store.key(result.experiment.config(), dataset.fingerprint)
        run = {"config": result.experiment.config(), "cpu_seconds": result.cpu_seconds}
        store.save(key, result.metrics(), result.state_dict, run)
    except StoreError as exc:
        warnings.warn(f"{exc}; the result was not stored", stacklevel=3)
