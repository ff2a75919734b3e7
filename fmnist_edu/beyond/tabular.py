"""Tabular data: a row of measurements has no layout, so the column order means nothing.

A table's columns can be listed in any order; which columns sit side by side is an
accident of how the file was written. A convolution assumes the opposite: that neighbours
belong together. This module holds the tables (bundled with scikit-learn: no download)
and the networks compared on them:

- :class:`FeatureCNN`, a 1-D CNN over the row, with the two assumptions of the book's
  CNN: locality (each unit sees :data:`KERNEL_SIZE` neighbouring columns) and weight
  sharing (the same kernel slides along the row). Its dense head, like the book's CNN's,
  has a weight for every column, so it can tell columns apart; the averaging head (a
  fully convolutional network) cannot. Reorder the columns and its kernels see other
  neighbours.
- :class:`FeatureMLP`, a dense network: reordering the columns relabels its first layer's
  weights (see :mod:`fmnist_edu.permutation`), so only its random start changes.

They are tuned and scored against gradient-boosted trees by
:mod:`fmnist_edu.beyond.tuning`, under several column orders (:func:`column_orders`) by
:mod:`fmnist_edu.beyond.column_order`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from torch import nn

from fmnist_edu.beyond.conv1d import conv_block
from fmnist_edu.errors import ConfigError

TABLES = {"breast_cancer": load_breast_cancer, "wine": load_wine}
KERNEL_SIZE = 3
MLP_HIDDEN = 32


@dataclass(frozen=True)
class Table:
    """A table of numeric features and one class per row."""

    name: str
    x: np.ndarray  # float64 [rows, features]
    y: np.ndarray  # int64 [rows]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]


def load_table(name: str = "breast_cancer") -> Table:
    """Load one of scikit-learn's bundled tables, ``"breast_cancer"`` or ``"wine"``.

    Wine: 178 wines grown in one region of Italy, 13 chemical measurements each, and
    which of 3 cultivars it came from :cite:`aeberhard1994wine`. Breast cancer: 569
    tumours, 30 measurements of their cell nuclei, malignant or benign
    :cite:`street1993nuclear`.
    """
    if name not in TABLES:
        raise ConfigError(f"table {name!r}: choose one of {', '.join(TABLES)}")
    bunch = TABLES[name]()
    return Table(
        name,
        np.asarray(bunch.data, dtype=np.float64),
        np.asarray(bunch.target, dtype=np.int64),
        tuple(bunch.feature_names),
        tuple(bunch.target_names),
    )


class FeatureCNN(nn.Module):
    """A 1-D CNN over the feature vector: conv -> ReLU -> conv -> ReLU -> head.

    Args:
        classes: outputs.
        channels: channels of both convolutions.
        kernel_size: neighbouring columns each convolution looks at (odd, "same" padding).
        head: ``"average"`` (a global average over the columns, then a linear layer: the
            fully convolutional form) or ``"dense"`` (a linear layer over all positions'
            channels, like the head of the book's CNN; it needs ``features``).
        features: columns of the table (only the dense head needs it).
    """

    def __init__(
        self,
        classes: int,
        channels: int = 8,
        kernel_size: int = KERNEL_SIZE,
        head: str = "average",
        features: int | None = None,
    ) -> None:
        super().__init__()
        self.features = conv_block(1, channels, kernel_size)  # [B, 1, F] -> [B, channels, F]
        if head == "average":  # [B, channels, F] -> [B, channels] -> [B, classes]
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(channels, classes)
            )
        elif head == "dense":
            if features is None:
                raise ConfigError("head='dense' needs the number of features")
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * features, classes))
        else:
            raise ConfigError(f"head={head!r}: choose 'average' or 'dense'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map rows ``[B, F]`` to logits ``[B, classes]``."""
        return self.head(self.features(x.unsqueeze(1)))


class FeatureMLP(nn.Sequential):
    """A dense network ``F -> hidden -> classes`` with ReLU."""

    def __init__(self, features: int, classes: int, hidden: int = MLP_HIDDEN) -> None:
        super().__init__(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def column_orders(features: int, shuffles: int, seed: int = 0) -> list[np.ndarray]:
    """The original column order followed by ``shuffles`` random orders (seeded)."""
    rng = np.random.default_rng(seed)
    return [np.arange(features)] + [rng.permutation(features) for _ in range(shuffles)]
