"""Numbers the chapters report: dataset statistics, class similarity, confusion totals,
a parameter-matched MLP, how the learning curves end, and tables of comparisons.

Each function returns plain data (floats, lists, small dataclasses) so that a chapter
can glue it into prose, plot it, or check a claim against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fmnist_edu import models
from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.experiments import MAX_WIDTH
from fmnist_edu.training import Evaluation, History


def class_mean_images(split: Split) -> torch.Tensor:
    """Return the mean image of each class, ``float [10, 28, 28]`` in [0, 1]."""
    images = split.images.float() / 255.0
    return torch.stack([images[split.labels == c].mean(0) for c in range(len(CLASS_NAMES))])


@dataclass(frozen=True)
class PixelStats:
    """Pixel statistics of a split, on the [0, 1] scale."""

    mean: float
    std: float
    background_fraction: float  # pixels that are exactly 0
    saturated_fraction: float  # pixels at the largest value, 255
    class_mean_intensity: tuple[float, ...]  # per class, mean pixel value ("ink")
    class_area: tuple[float, ...]  # per class, share of pixels that are not background
    class_consistency: tuple[float, ...]  # per class, |mean image|^2 / mean |image|^2


def pixel_stats(split: Split) -> PixelStats:
    """Return the mean, spread and background fraction of a split's pixels, and per class:

    - the mean pixel value (how much "ink" an image of the class has on average);
    - the *area*: the share of pixels that are not background (value above 0);
    - the *consistency*: the squared norm of the class's mean image divided by the mean
      squared norm of its images, in ``[0, 1]``. It is 1 when every image is the same,
      and small when the images put their ink in different places: averaging then
      smears it out, and the mean image looks blurry.
    """
    images = split.images.float() / 255.0
    classes = [images[split.labels == c] for c in range(len(CLASS_NAMES))]
    return PixelStats(
        mean=float(images.mean()),
        std=float(images.std()),
        background_fraction=float((split.images == 0).float().mean()),
        saturated_fraction=float((split.images == 255).float().mean()),
        class_mean_intensity=tuple(float(m.mean()) for m in classes),
        class_area=tuple(float((m > 0).float().mean()) for m in classes),
        class_consistency=tuple(
            float(m.mean(0).square().sum() / m.square().sum((1, 2)).mean()) for m in classes
        ),
    )


def class_similarity(split: Split) -> torch.Tensor:
    """Return the cosine similarity between the classes' mean images, ``[10, 10]``."""
    means = class_mean_images(split).flatten(1)
    means = means / means.norm(dim=1, keepdim=True)
    return means @ means.T


def top_pairs(matrix: Sequence[Sequence[float]], k: int = 3, add_transpose: bool = False) -> list:
    """Return the ``k`` largest entries above the diagonal as ``(value, i, j)``, largest first.

    For a symmetric matrix (a similarity) leave ``add_transpose`` off. For a confusion
    matrix turn it on: entry ``(i, j)`` then counts mix-ups in both directions.
    """
    m = torch.as_tensor(matrix, dtype=torch.float64)
    m = torch.triu(m + m.T if add_transpose else m, diagonal=1)
    values, flat = torch.topk(m.flatten(), k)
    n = m.shape[1]
    return [(float(v), int(f) // n, int(f) % n) for v, f in zip(values, flat, strict=True)]


def total_confusion(evaluations: Sequence[Evaluation]) -> list[list[int]]:
    """Add up the confusion matrices of several evaluations (e.g. one per seed)."""
    return torch.stack([torch.tensor(e.confusion) for e in evaluations]).sum(0).tolist()


def mean_per_class(evaluations: Sequence[Evaluation]) -> list[float]:
    """Average the per-class accuracies of several evaluations (e.g. one per seed)."""
    return torch.tensor([e.per_class_accuracy for e in evaluations]).mean(0).tolist()


def mix_up_rates(confusion: Sequence[Sequence[float]]) -> torch.Tensor:
    """Return how often each pair of classes is mixed up, ``[10, 10]``, symmetric.

    Entry ``(i, j)`` is the number of images of class ``i`` predicted as ``j`` plus those
    of ``j`` predicted as ``i``, divided by the images of both classes (the row sums), so
    a pair's rate does not depend on how many seeds were pooled or on class sizes. The
    diagonal is 0.
    """
    m = torch.as_tensor(confusion, dtype=torch.float64)
    totals = m.sum(1)
    rates = (m + m.T) / (totals[:, None] + totals[None, :]).clamp(min=1)
    return rates.fill_diagonal_(0)


def mlp_parameters(hidden: Sequence[int]) -> int:
    """Parameters of :class:`fmnist_edu.models.MLP` with these hidden widths (weights + biases)."""
    widths = [models.IMAGE_SIDE**2, *hidden, models.NUM_CLASSES]
    return sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))


def matched_mlp_hidden(target: int, shape: Sequence[int] = models.MLP_HIDDEN) -> tuple[int, ...]:
    """Hidden widths in the proportions of ``shape`` whose MLP has about ``target`` parameters.

    The default keeps the baseline's 2:1 funnel (128, 64) and widens it until its
    parameter count is as close as possible to ``target`` (e.g. the CNN's), so that a
    comparison with the CNN holds the number of parameters fixed.
    """
    ratios = [w / shape[0] for w in shape]

    def widths(first: int) -> tuple[int, ...]:
        return tuple(max(1, round(first * r)) for r in ratios)

    best = min(range(1, MAX_WIDTH + 1), key=lambda w: abs(mlp_parameters(widths(w)) - target))
    return widths(best)


@dataclass(frozen=True)
class CurveEnd:
    """How a metric moved over the last epoch, mean over seeds (last minus the one before)."""

    last: float  # mean over seeds at the last epoch
    change: float  # mean over seeds of (last epoch - previous epoch)


def curve_end(histories: Sequence[History], column: str) -> CurveEnd:
    """Where ``column`` (``"loss"``, ``"val_accuracy"``...) ends, and its last step.

    Needs at least two epochs. A falling training loss (``change < 0``) means that the
    model was still fitting its training images when training stopped.
    """
    values = torch.tensor([h.column(column) for h in histories], dtype=torch.float64)
    if values.ndim != 2 or values.shape[1] < 2:
        raise ValueError(f"curve_end needs at least two epochs of {column!r}")
    return CurveEnd(float(values[:, -1].mean()), float((values[:, -1] - values[:, -2]).mean()))
