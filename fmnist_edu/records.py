"""What training and evaluation report, and how it is checked when read back from JSON.

:class:`History` (one :class:`EpochStats` per epoch) and :class:`Evaluation` are what
:func:`fmnist_edu.training.train` and :func:`fmnist_edu.training.evaluate` return; the
results store keeps them as JSON, and their ``from_dict`` methods check every field of
what they read back (types, ranges, and that numbers are finite where they must be), so
a damaged entry is an error that names the field.

An epoch that was not validated (see :data:`VALIDATION`) records its ``val_accuracy`` as
``None`` (JSON ``null``), never as a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from fmnist_edu.data import CLASS_NAMES

NUM_CLASSES = len(CLASS_NAMES)
#: When a run measures its validation accuracy: after every epoch (``"epoch"``), after the
#: last one only (``"last"``), or never (``"none"``). Validation changes no weight.
VALIDATION = ("epoch", "last", "none")


def validated_epochs(validate: str, epochs: int) -> list[int]:
    """The epochs (numbered from 1) after which a run with ``validate`` measures accuracy.

    Raises:
        ValueError: for a ``validate`` that is not one of :data:`VALIDATION`.
    """
    if validate not in VALIDATION:
        raise ValueError(f"validate={validate!r}: choose one of {', '.join(VALIDATION)}")
    if validate == "epoch":
        return list(range(1, epochs + 1))
    return [epochs] if validate == "last" and epochs >= 1 else []


def _fields(data: Any, cls: type, where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    if not isinstance(data, dict) or set(data) != names:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{where}: expected the fields {sorted(names)}, got {got}")
    return data


def _number(value: Any, where: str, low: float, high: float = math.inf) -> float:
    """A number in ``[low, high]``, finite (JSON may hold ``NaN`` and ``Infinity``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}={value!r}: not a number")
    if not (low <= value <= high and math.isfinite(value)):  # NaN fails too
        raise ValueError(f"{where}={value!r}: not a finite number in [{low}, {high}]")
    return float(value)


def duration(value: Any, where: str) -> float:
    """Check a stored number of seconds: finite and not negative; raises ``ValueError``."""
    return _number(value, where, 0)


def _loss(value: Any, where: str) -> float:
    """A cross-entropy: not negative; ``NaN`` or ``Infinity`` after training diverged."""
    if isinstance(value, float) and (math.isnan(value) or value == math.inf):
        return value
    return _number(value, where, 0)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where}={value!r}: not a count (a non-negative integer)")
    return value


def _list(value: Any, length: int, where: str) -> list:
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"{where}: expected a list of {length}, got {str(value)[:40]}")
    return value


@dataclass
class EpochStats:
    """What one epoch produced."""

    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: float | None  # None: not validated after this epoch
    seconds: float

    @classmethod
    def from_dict(cls, data: Any, where: str = "epoch") -> EpochStats:
        """Rebuild from JSON-ready data, checking every type; raises ``ValueError``."""
        d = _fields(data, cls, where)
        return cls(
            epoch=_count(d["epoch"], f"{where}.epoch"),
            loss=_loss(d["loss"], f"{where}.loss"),
            train_accuracy=_number(d["train_accuracy"], f"{where}.train_accuracy", 0, 1),
            val_accuracy=None
            if d["val_accuracy"] is None
            else _number(d["val_accuracy"], f"{where}.val_accuracy", 0, 1),
            seconds=duration(d["seconds"], f"{where}.seconds"),
        )


@dataclass
class History:
    """Per-epoch statistics of a training run."""

    epochs: list[EpochStats] = field(default_factory=list)

    def column(self, name: str) -> list[float]:
        """Return one statistic over the epochs, e.g. ``column("val_accuracy")``.

        Raises:
            ValueError: when some epoch did not measure it (a run that validated only
                after its last epoch, or never, has no validation curve).
        """
        values = [getattr(e, name) for e in self.epochs]
        missing = [e.epoch for e, v in zip(self.epochs, values, strict=True) if v is None]
        if missing:
            raise ValueError(
                f"{name} was not measured after epoch(s) {', '.join(map(str, missing[:5]))}"
                f"{', ...' if len(missing) > 5 else ''}: a curve needs a run that "
                "validates after every epoch (validate='epoch')"
            )
        return values

    def validated(self) -> list[int]:
        """The epochs after which the validation accuracy was measured."""
        return [e.epoch for e in self.epochs if e.val_accuracy is not None]

    @property
    def seconds(self) -> float:
        """Total training time."""
        return sum(e.seconds for e in self.epochs)

    @classmethod
    def from_dict(cls, data: Any, where: str = "history") -> History:
        """Rebuild from JSON-ready data, checking epochs are numbered 1, 2, ...; ``ValueError``."""
        epochs = _fields(data, cls, where)["epochs"]
        if not isinstance(epochs, list):
            raise ValueError(f"{where}.epochs: expected a list")
        history = cls(
            [EpochStats.from_dict(e, f"{where}.epochs[{i}]") for i, e in enumerate(epochs)]
        )
        if history.column("epoch") != list(range(1, len(epochs) + 1)):
            raise ValueError(f"{where}.epochs: not numbered 1 to {len(epochs)}")
        return history


@dataclass
class Evaluation:
    """Accuracy, per-class accuracy and the confusion matrix (rows: true, columns: predicted)."""

    accuracy: float
    per_class_accuracy: list[float]
    confusion: list[list[int]]

    @classmethod
    def from_dict(cls, data: Any, where: str = "evaluation") -> Evaluation:
        """Rebuild from JSON-ready data, checking every type; raises ``ValueError``.

        Expects an accuracy in [0, 1], 10 per-class accuracies in [0, 1] and a 10x10
        confusion matrix of counts.
        """
        d = _fields(data, cls, where)
        name = f"{where}.per_class_accuracy"
        per_class = [
            _number(a, name, 0, 1) for a in _list(d["per_class_accuracy"], NUM_CLASSES, name)
        ]
        name = f"{where}.confusion"
        rows = [_list(row, NUM_CLASSES, name) for row in _list(d["confusion"], NUM_CLASSES, name)]
        return cls(
            accuracy=_number(d["accuracy"], f"{where}.accuracy", 0, 1),
            per_class_accuracy=per_class,
            confusion=[[_count(c, name) for c in row] for row in rows],
        )
