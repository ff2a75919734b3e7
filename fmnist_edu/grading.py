"""Grading: one fixed test-set evaluation for any model, as a record a course can keep.

Every student's model is evaluated the same way: on the whole official test split, in
eval mode, by the one evaluation the book uses (:func:`fmnist_edu.training.evaluate`).
The record says what was evaluated (parameters, the data's fingerprint, the torch version
and thread count, since results are reproducible only with the same ones) and saves to
JSON, so grades can be collected, compared and re-checked::

    record = grading.grade(model, dataset, name="alice")
    record.save("grades/alice.json")
    grading.Grade.load("grades/alice.json").accuracy
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fmnist_edu import data as data_module
from fmnist_edu import models, registry
from fmnist_edu.errors import ConfigError, FmnistEduError
from fmnist_edu.store import atomic_write
from fmnist_edu.training import evaluate

#: The version of the record's layout, stored with it.
FORMAT = 1


@dataclass(frozen=True)
class Grade:
    """One model's result on the fixed test set, and what it was computed with."""

    name: str
    accuracy: float
    per_class_accuracy: tuple[float, ...]
    test_images: int
    parameters: int
    data_fingerprint: str
    torch_version: str
    threads: int
    format: int = FORMAT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dataclasses.asdict(self) | {"per_class_accuracy": list(self.per_class_accuracy)}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the record as JSON to ``path`` (atomically: never a half-written file)."""
        path = Path(path)
        if not path.parent.is_dir():
            raise FmnistEduError(f"{path}: the folder {path.parent} does not exist")
        text = json.dumps(self.to_dict(), indent=2).encode()
        atomic_write(path, lambda f: f.write(text))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Grade:
        """Read a record written by :meth:`save`, checking every field.

        Raises:
            FmnistEduError: naming the file and the field that is missing or wrong.
        """
        try:
            fields = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise FmnistEduError(f"{path}: not a readable grade record ({exc})") from None
        expected = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(fields, dict) or set(fields) != expected:
            got = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
            raise FmnistEduError(f"{path}: expected the fields {sorted(expected)}, got {got}")
        shares = [fields["accuracy"]]
        per_class = fields["per_class_accuracy"]
        if not isinstance(per_class, list) or len(per_class) != models.NUM_CLASSES:
            raise FmnistEduError(f"{path}: per_class_accuracy must hold 10 numbers")
        for value in shares + per_class:
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise FmnistEduError(f"{path}: accuracy {value!r} is not a share in [0, 1]")
        for name in ("test_images", "parameters", "threads", "format"):
            value = fields[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise FmnistEduError(f"{path}: {name}={value!r} is not a count")
        for name in ("name", "data_fingerprint", "torch_version"):
            if not isinstance(fields[name], str):
                raise FmnistEduError(f"{path}: {name}={fields[name]!r} is not text")
        return cls(**fields | {"per_class_accuracy": tuple(per_class)})


def grade(
    model: nn.Module, dataset: data_module.FashionMNIST | None = None, name: str = "model"
) -> Grade:
    """Evaluate ``model`` on the whole test split and return the record.

    Args:
        model: any module mapping ``[N, 1, 28, 28]`` images in ``[0, 1]`` to ``[N, 10]``
            logits (checked first, in one line); it is put in eval mode.
        dataset: the data (default: :func:`fmnist_edu.data.load`).
        name: who or what is graded, stored in the record.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name={name!r}: give the student's or the model's name")
    registry.check_io(model, name)
    dataset = dataset or data_module.load()
    result = evaluate(model.eval(), dataset.test)
    return Grade(
        name=name,
        accuracy=result.accuracy,
        per_class_accuracy=tuple(result.per_class_accuracy),
        test_images=len(dataset.test),
        parameters=models.count_parameters(model),
        data_fingerprint=dataset.fingerprint,
        torch_version=torch.__version__,
        threads=torch.get_num_threads(),
    )
