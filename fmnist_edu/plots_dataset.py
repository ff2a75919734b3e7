"""The Dataset chapter's figures: examples, class balance, pixel values.

They follow the one style of :mod:`fmnist_edu.plots` (width, fonts, phone rule).
"""

from __future__ import annotations

import numpy as np
import torch

from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.plots import (
    IMAGE_CMAP,
    TEXT_WIDTH,
    BookFigure,
    _class_ticks,
    _figure,
    _legend_above,
    _styled,
)


@_styled
def example_grid(split: Split, per_class: int = 8, seed: int = 0) -> BookFigure:
    """A grid with one row per class and ``per_class`` random examples in each row (PNG)."""
    generator = torch.Generator().manual_seed(seed)
    cell = (TEXT_WIDTH - 1.3) / per_class  # inches per image, after the row labels
    fig = _figure(len(CLASS_NAMES) * cell * 0.98, vector=False)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = fig.subplots(len(CLASS_NAMES), per_class)
    for c, row in enumerate(axes):
        members = torch.nonzero(split.labels == c).flatten()
        chosen = members[torch.randperm(len(members), generator=generator)[:per_class]]
        for ax, i in zip(row, chosen, strict=False):
            ax.imshow(split.images[i].numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=255)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        row[0].set_ylabel(CLASS_NAMES[c], rotation=0, ha="right", va="center")
    return fig


@_styled
def class_balance(train: Split, test: Split) -> BookFigure:
    """Bar chart of the number of images of each class in both splits."""
    fig = _figure(3.2)
    ax = fig.subplots()
    x = torch.arange(len(CLASS_NAMES)).float()
    for offset, (name, split) in zip((-0.2, 0.2), (("train", train), ("test", test)), strict=True):
        ax.bar(x + offset, split.class_counts(), width=0.4, label=f"{name} ({len(split):,})")
    _class_ticks(ax)
    ax.set_ylabel("images")
    _legend_above(fig, ncols=2)
    return fig


@_styled
def pixel_histogram(split: Split) -> BookFigure:
    """Histogram of pixel values (log scale: most pixels are background)."""
    fig = _figure(3.0)
    ax = fig.subplots()
    counts = torch.bincount(split.images.flatten().long(), minlength=256)
    # One outline (not 256 bars): a light SVG. Edges at -0.5..255.5 centre each value.
    floor = max(1.0, float(counts[counts > 0].min()) / 2) if bool((counts > 0).any()) else 1.0
    ax.stairs(counts.numpy(), np.arange(257) - 0.5, fill=True, baseline=floor)
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xlim(-2, 257)
    ax.set_xlabel("pixel value (0 = background)")
    ax.set_ylabel("pixels")
    return fig
