"""Numbers the chapters report: dataset statistics, class similarity, seed comparisons.

Each function returns plain data (floats, lists, small dataclasses) so that a chapter
can glue it into prose, plot it, or check a claim against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.experiments import SeedSummary, summarize_seeds
from fmnist_edu.training import Evaluation


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
    class_mean_intensity: tuple[float, ...]  # per class, mean pixel value


def pixel_stats(split: Split) -> PixelStats:
    """Return the mean, spread and background fraction of a split's pixels."""
    images = split.images.float() / 255.0
    per_class = tuple(float(images[split.labels == c].mean()) for c in range(len(CLASS_NAMES)))
    return PixelStats(
        mean=float(images.mean()),
        std=float(images.std()),
        background_fraction=float((split.images == 0).float().mean()),
        class_mean_intensity=per_class,
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


@dataclass(frozen=True)
class Comparison:
    """Two models' test accuracy over seeds, and what the difference supports."""

    a: SeedSummary
    b: SeedSummary
    difference: float  # mean of a minus mean of b
    noise: float  # twice the larger of the two seed-to-seed standard deviations
    a_better: bool  # a's mean exceeds b's by more than the noise
    b_better: bool


def compare(a: Sequence[float], b: Sequence[float]) -> Comparison:
    """Compare per-seed scores of two models with a deliberately plain rule.

    A model is called better only when its mean beats the other's by more than twice
    the larger seed-to-seed standard deviation; otherwise the difference is reported as
    within noise. With one seed there is no measure of noise, and nobody wins.
    """
    sa, sb = summarize_seeds(a), summarize_seeds(b)
    diff = sa.mean - sb.mean
    noise = 2 * max(sa.std, sb.std)
    measurable = min(sa.n, sb.n) > 1
    return Comparison(
        sa, sb, diff, noise, measurable and diff > noise, measurable and -diff > noise
    )


def verdict(comparison: Comparison, name_a: str, name_b: str) -> str:
    """Return one sentence stating what the comparison supports, for the chapter's prose."""
    c = comparison
    points = abs(c.difference) * 100
    if c.a_better or c.b_better:
        winner, loser = (name_a, name_b) if c.a_better else (name_b, name_a)
        return (
            f"the {winner} beats the {loser} by {points:.1f} percentage points, more than "
            f"twice the seed-to-seed standard deviation ({c.noise / 2 * 100:.1f} points)"
        )
    return (
        f"the {points:.1f}-point difference between the {name_a} and the {name_b} is within "
        f"seed-to-seed noise (twice the standard deviation is {c.noise * 100:.1f} points), so "
        "this run does not show a winner"
    )
