"""The one training loop and evaluation, shared by every model and every chapter.

Batches are slices of in-memory tensors (see :mod:`fmnist_edu.data`), shuffled by a
seeded generator, so a run is deterministic for a given seed on the CPU: the same seed
gives identical weights and metrics. A GPU is used when present.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm import tqdm

from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.settings import default_device

NUM_CLASSES = len(CLASS_NAMES)


@dataclass
class EpochStats:
    """What one epoch produced."""

    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: float
    seconds: float


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


@dataclass
class Evaluation:
    """Accuracy, per-class accuracy and the confusion matrix (rows: true, columns: predicted)."""

    accuracy: float
    per_class_accuracy: list[float]
    confusion: list[list[int]]


def to_inputs(images: torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    """Turn ``uint8`` images ``[B, 28, 28]`` into model inputs ``float [B, 1, 28, 28]`` in [0, 1].

    The batch is laid out channels-last, which oneDNN's CPU convolutions run faster.
    """
    x = images.to(device).unsqueeze(1).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def seed_everything(seed: int) -> None:
    """Seed torch's global generator (weights and dropout) for a reproducible run."""
    torch.manual_seed(seed)


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
    """Evaluate ``model`` on ``split``: accuracy, per-class accuracy, confusion matrix."""
    predicted = predict(model, split, device=device)
    confusion = torch.bincount(
        split.labels * NUM_CLASSES + predicted, minlength=NUM_CLASSES**2
    ).reshape(NUM_CLASSES, NUM_CLASSES)
    per_class = confusion.diag() / confusion.sum(1).clamp(min=1)
    return Evaluation(
        accuracy=float((predicted == split.labels).float().mean()) if len(split) else 0.0,
        per_class_accuracy=per_class.tolist(),
        confusion=confusion.tolist(),
    )


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
) -> History:
    """Train ``model`` in place with Adam and cross-entropy; return the per-epoch history.

    Args:
        model: any module mapping ``[B, 1, 28, 28]`` to logits ``[B, 10]``.
        train_split, val_split: in-memory splits; validation accuracy is 0 without one.
        epochs, batch_size, lr: the usual.
        seed: seeds the shuffling and torch's global generator (dropout).
        device: defaults to the GPU when present, else the CPU.
        progress: show a tqdm bar; ``None`` shows it only when output is a terminal.
    """
    device = device or default_device()
    seed_everything(seed)
    model.to(device=device, memory_format=torch.channels_last)
    images, labels = train_split.images.to(device), train_split.labels.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    history = History()
    disable = None if progress is None else not progress
    for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=disable, leave=False):
        start = time.perf_counter()
        model.train()
        total_loss, correct = 0.0, 0
        for idx in _batches(len(train_split), batch_size, generator):
            idx = idx.to(device)
            x, y = to_inputs(images[idx]), labels[idx]
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
