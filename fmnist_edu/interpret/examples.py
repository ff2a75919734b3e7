"""Which images to explain, and summaries of many maps at once.

:func:`pick_examples` chooses right and wrong predictions among classes a model confuses;
:func:`stratified_sample` a fixed, class-balanced set of test images shared by every model
and seed; :func:`class_mean_maps` the mean absolute map of each class; :func:`ink_share`
how much of a map lies on the garment rather than on the background.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.interpret.methods import attribute
from fmnist_edu.training import NUM_CLASSES


def stratified_sample(labels: torch.Tensor, per_class: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``per_class`` images of each class (fewer if a class has fewer), sorted.

    The choice is random but seeded, so every model and seed is tested on the same images.
    """
    if per_class < 1:
        raise ConfigError(f"per_class={per_class}: must be at least 1")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(NUM_CLASSES):
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen).sort().values


def pick_examples(
    predicted: torch.Tensor,
    labels: torch.Tensor,
    pairs: Iterable[tuple[int, int]],
    n_right: int,
    n_wrong: int,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of ``n_right`` correct and ``n_wrong`` wrong predictions within ``pairs``.

    ``pairs`` are class pairs the model confuses, e.g. from
    :func:`fmnist_edu.analysis.top_pairs`. The wrong ones are images of one class of a
    pair predicted as the other (either way), taken in turn from each pair; the right ones
    are correctly classified images of the same classes, one class after another. The
    order within each group is random but seeded.
    """
    pairs = [(int(i), int(j)) for i, j in pairs]
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    labels, predicted = labels[order], predicted[order]
    pools = [
        order[((labels == i) & (predicted == j)) | ((labels == j) & (predicted == i))]
        for i, j in pairs
    ]
    classes = list(dict.fromkeys(c for pair in pairs for c in pair))
    right_pools = [order[(labels == c) & (predicted == c)] for c in classes]
    return _round_robin(right_pools, n_right), _round_robin(pools, n_wrong)


def _round_robin(pools: Sequence[torch.Tensor], n: int) -> torch.Tensor:
    """Take one index from each pool in turn until ``n`` are taken or all are empty."""
    taken: list[int] = []
    depth = 0
    while len(taken) < n and any(depth < len(p) for p in pools):
        taken += [int(p[depth]) for p in pools if depth < len(p)][: n - len(taken)]
        depth += 1
    return torch.tensor(taken, dtype=torch.long)


def class_mean_maps(
    models: Sequence[nn.Module],
    split: Split,
    method: str = "saliency",
    per_class: int = 20,
    seed: int = 0,
) -> torch.Tensor:
    """Mean absolute map of each class ``[10, 28, 28]``, over images and models.

    ``per_class`` images of each class (:func:`stratified_sample`), each explained for its
    true class by every model (e.g. one per seed).
    """
    index = stratified_sample(split.labels, per_class, seed)
    images, labels = split.images[index], split.labels[index]
    total = torch.zeros(NUM_CLASSES, 28, 28)
    for model in models:
        maps = attribute(model, images, method, labels, seed=seed).abs()
        total.index_add_(0, labels, maps)
    counts = torch.bincount(labels, minlength=NUM_CLASSES).clamp(min=1)
    return total / (counts[:, None, None] * len(models))


def ink_share(maps: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Share of each map's absolute mass on the garment (pixels above 0): ``[B]``.

    ``images`` are the ``uint8 [B, 28, 28]`` images the maps explain. A share below the
    garment's share of the image means the map spends its mass on the empty background.
    """
    mass = maps.abs().reshape(len(maps), -1)
    ink = (torch.as_tensor(images).reshape(len(maps), -1) > 0).float()
    return (mass * ink).sum(1) / mass.sum(1).clamp(min=1e-12)
