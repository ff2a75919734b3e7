"""The one training loop and evaluation, shared by every model and every chapter.

Batches are slices of in-memory tensors (see :mod:`fmnist_edu.data`), shuffled by a
seeded generator that lives on the CPU whatever the device, so every device sees the
same batches in the same order. A GPU is used when present.

What is guaranteed: training twice with the same seed, data and arguments on the same
device type (CPU or CUDA), with the same number of CPU threads, the same hardware and
the same PyTorch version, gives bit-identical weights and metrics. For that,
:func:`train` runs under :func:`deterministic_algorithms` (deterministic cuDNN and
cuBLAS kernels, no cuDNN autotuning), and :mod:`fmnist_edu.settings` sets
``CUBLAS_WORKSPACE_CONFIG`` before CUDA starts. Results on a CPU and a GPU, or with
another thread count, agree only up to rounding.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from fmnist_edu import transforms
from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.errors import ConfigError, DataError
from fmnist_edu.settings import CUBLAS_ENV, DETERMINISTIC_CUBLAS, default_device

NUM_CLASSES = len(CLASS_NAMES)

#: An augmentation maps a batch of ``uint8`` images ``[B, 28, 28]`` and a generator to a
#: batch of the same shape; it runs on every training batch, before the forward pass.
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
AUGMENTATIONS: dict[str, Augment | None] = {
    "none": None,
    # Each image moves by its own random offset in [-2, 2] pixels down and right.
    "shift": lambda images, generator: transforms.random_shift(images, 2, generator),
}


def _fields(data: Any, cls: type, where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    if not isinstance(data, dict) or set(data) != names:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{where}: expected the fields {sorted(names)}, got {got}")
    return data


def _number(value: Any, where: str, low: float | None = None, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}={value!r}: not a number")
    if low is not None and not low <= value <= high:  # NaN fails too
        raise ValueError(f"{where}={value!r}: not in [{low}, {high}]")
    return float(value)


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
    val_accuracy: float
    seconds: float

    @classmethod
    def from_dict(cls, data: Any, where: str = "epoch") -> EpochStats:
        """Rebuild from JSON-ready data, checking every type; raises ``ValueError``."""
        d = _fields(data, cls, where)
        return cls(
            epoch=_count(d["epoch"], f"{where}.epoch"),
            loss=_number(d["loss"], f"{where}.loss"),  # may be NaN after divergence
            train_accuracy=_number(d["train_accuracy"], f"{where}.train_accuracy", 0, 1),
            val_accuracy=_number(d["val_accuracy"], f"{where}.val_accuracy", 0, 1),
            seconds=_number(d["seconds"], f"{where}.seconds", 0),
        )


@dataclass
class History:
    """Per-epoch statistics of a training run."""

    epochs: list[EpochStats] = field(default_factory=list)

    def column(self, name: str) -> list[float]:
        """Return one statistic over the epochs, e.g. ``column("val_accuracy")``."""
        return [getattr(e, name) for e in self.epochs]

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


def to_inputs(images: torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """Turn ``uint8`` images ``[B, 28, 28]`` into model inputs ``float [B, 1, 28, 28]`` in [0, 1].

    The batch is laid out channels-last, which oneDNN's CPU convolutions run faster.
    """
    x = images.to(device).unsqueeze(1).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def seed_everything(seed: int) -> None:
    """Seed torch's global generators, CPU and GPU (initial weights, dropout)."""
    torch.manual_seed(seed)


def derived_seed(seed: int, purpose: str) -> int:
    """Return a seed for one ``purpose`` (e.g. ``"augment"``) derived from ``seed``.

    Each random stream of a run gets its own generator, so adding one (augmentation, say)
    leaves the others, such as the shuffling order, unchanged.
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "big") >> 1


@contextlib.contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """Within the block, let torch run only deterministic kernels; restore the settings after.

    Turns on :func:`torch.use_deterministic_algorithms` and turns off cuDNN's autotuner
    (which may pick another kernel each run), then puts back whatever the caller had.
    """
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.benchmark = previous[2]


def _batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(torch.split(order, batch_size))


@torch.no_grad()
def predict(
    model: nn.Module, split: Split, batch_size: int = 1024, device: torch.device | None = None
) -> torch.Tensor:
    """Return the predicted class of every image of ``split`` (``int64 [N]``, on the CPU)."""
    device = device or next(model.parameters()).device
    model.eval()
    out = [
        model(to_inputs(split.images[idx], device)).argmax(1).cpu()
        for idx in _batches(len(split), batch_size, None)
    ]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def evaluate(model: nn.Module, split: Split, device: torch.device | None = None) -> Evaluation:
    """Evaluate ``model`` on ``split``: accuracy, per-class accuracy, confusion matrix.

    Raises:
        DataError: when ``split`` holds no images (an accuracy of nothing is undefined).
    """
    if len(split) == 0:
        raise DataError("cannot evaluate on a split that holds no images")
    predicted = predict(model, split, device=device)
    confusion = torch.bincount(
        split.labels * NUM_CLASSES + predicted, minlength=NUM_CLASSES**2
    ).reshape(NUM_CLASSES, NUM_CLASSES)
    per_class = confusion.diag() / confusion.sum(1).clamp(min=1)
    return Evaluation(
        accuracy=float((predicted == split.labels).float().mean()),
        per_class_accuracy=per_class.tolist(),
        confusion=confusion.tolist(),
    )


def _augmentation(augment: str | Augment | None) -> Augment | None:
    if augment is None or callable(augment):
        return augment
    if augment not in AUGMENTATIONS:
        raise ConfigError(f"augment={augment!r}: choose one of {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[augment]


def train(
    model: nn.Module,
    train_split: Split,
    val_split: Split | None = None,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | None = None,
    progress: bool | None = None,
    augment: str | Augment | None = None,
) -> History:
    """Train ``model`` in place with Adam and cross-entropy; return the per-epoch history.

    Args:
        model: any module mapping images ``float [B, 1, 28, 28]`` to logits ``[B, 10]``.
        train_split: the images to learn from, shuffled afresh every epoch.
        val_split: images to measure accuracy on after every epoch; without one
            (``None``), every epoch's ``val_accuracy`` is recorded as 0.
        epochs: passes over ``train_split``.
        batch_size: images per gradient step; the last batch of an epoch may be smaller.
        lr: Adam's learning rate.
        seed: seeds torch's global generators (dropout; the initial weights are set
            by whoever built ``model``, see :func:`seed_everything`), the CPU generator
            that shuffles the batches and, through :func:`derived_seed`, the one that
            draws the augmentation.
        device: where to train; defaults to the GPU when present, else the CPU.
        progress: show a tqdm bar; ``None`` shows it only when output is a terminal.
        augment: a name from :data:`AUGMENTATIONS` (``"none"``, ``"shift"``) or a function
            ``(uint8 images [B, 28, 28], generator) -> images`` applied to each training
            batch before the forward pass; ``None`` trains on the images as they are.

    Raises:
        DataError: when a split holds no images.
        ConfigError: for an impossible setting (``epochs``, ``batch_size`` below 1, an
            unknown augmentation, or a cuBLAS workspace that is not deterministic).
    """
    augment_fn = _augmentation(augment)
    if len(train_split) == 0:
        raise DataError("the training split holds no images")
    if val_split is not None and len(val_split) == 0:
        raise DataError("the validation split holds no images; pass None to train without one")
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs={epochs}, batch_size={batch_size}: both must be at least 1")
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda" and os.environ.get(CUBLAS_ENV) not in DETERMINISTIC_CUBLAS:
        raise ConfigError(
            f"{CUBLAS_ENV}={os.environ.get(CUBLAS_ENV)!r}: deterministic training on a GPU "
            f"needs {' or '.join(DETERMINISTIC_CUBLAS)}, set before CUDA starts"
        )
    seed_everything(seed)
    model.to(device=device, memory_format=torch.channels_last)
    images, labels = train_split.images.to(device), train_split.labels.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(seed)  # on the CPU, so the same on every device
    augment_generator = torch.Generator().manual_seed(derived_seed(seed, "augment"))
    history = History()
    disable = None if progress is None else not progress
    with deterministic_algorithms():
        for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=disable, leave=False):
            start = time.perf_counter()
            model.train()
            total_loss, correct = 0.0, 0
            for idx in _batches(len(train_split), batch_size, shuffle):
                idx = idx.to(device)
                batch = images[idx]  # uint8 [B, 28, 28]
                if augment_fn is not None:
                    batch = augment_fn(batch, augment_generator)
                x, y = to_inputs(batch), labels[idx]
                logits = model(x)
                loss = loss_fn(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(idx)
                correct += int((logits.argmax(1) == y).sum())
            val = evaluate(model, val_split, device).accuracy if val_split is not None else 0.0
            history.epochs.append(
                EpochStats(
                    epoch=epoch,
                    loss=total_loss / len(train_split),
                    train_accuracy=correct / len(train_split),
                    val_accuracy=val,
                    seconds=time.perf_counter() - start,
                )
            )
    model.eval()
    return history
