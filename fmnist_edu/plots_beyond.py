"""The figures of the chapter "When not to use CNNs", in the book's one style.

See :mod:`fmnist_edu.plots` for the style (column width, text readable on a phone, SVG
charts, PNG images, legends above the axes); the permuted images reuse
:func:`fmnist_edu.plots.image_row` and the seed scores :func:`fmnist_edu.plots.seed_scores`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from fmnist_edu.data import Split
from fmnist_edu.plots import (
    IMAGE_CMAP,
    BookFigure,
    _figure,
    _legend_above,
    _styled,
    jitter,
    seed_scores,
)

_ORIGINAL, _SHUFFLED = "black", "0.55"
MARK_PAIRS_HEIGHT = 2.2
"""Height of :func:`mark_pairs` in inches (four 28 x 28 images in a row)."""


@_styled
def order_scores(per_run: Mapping[str, np.ndarray]) -> BookFigure:
    """Cross-validated accuracy of each model for each column order (SVG).

    ``per_run[name]`` is ``[orders, repeats]`` (accuracies in [0, 1]); order 0 is the
    table's own. Each order is a dot at its mean over repeats, with a line from its worst to
    its best repeat; the table's own order is black, the shuffled orders grey.
    """
    fig = _figure(3.2)
    ax = fig.subplots()
    for x, runs in enumerate(per_run.values()):
        runs = 100 * np.asarray(runs, dtype=float)
        for k, (offset, seeds) in enumerate(zip(jitter(len(runs), 0.5), runs, strict=True)):
            colour = _ORIGINAL if k == 0 else _SHUFFLED
            ax.plot([x + offset] * 2, [seeds.min(), seeds.max()], color=colour, lw=1.5)
            ax.plot(x + offset, seeds.mean(), "o", ms=7, color=colour,
                    markeredgecolor="white", zorder=3)  # fmt: skip
    ax.set_xticks(range(len(per_run)), list(per_run))
    ax.set_xlim(-0.6, len(per_run) - 0.4)
    ax.set_ylabel("cross-validated accuracy (%)")
    handles = [Line2D([], [], marker="o", color=c, label=t)
               for c, t in ((_ORIGINAL, "the table's own column order"),
                            (_SHUFFLED, "a shuffled column order"))]  # fmt: skip
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return fig


@_styled
def mark_pairs(split: Split, field: int, centre: Sequence[tuple[float, float]]) -> BookFigure:
    """Up to four images of the long-range task with one vote's receptive field drawn (PNG).

    ``field`` is the side of the receptive field of one vote of the fully convolutional
    network; a square of that side is drawn centred on ``centre[i]`` (row, column) of
    image ``i``. Titles say whether the two marks are the same shape.
    """
    count = min(len(split), 4)
    fig = _figure(MARK_PAIRS_HEIGHT, vector=False)
    axes = fig.subplots(1, count)
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(split.images[i].numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=255)
        row, col = centre[i]
        ax.add_patch(Rectangle((col - field / 2, row - field / 2), field, field, fill=False,
                               edgecolor="tab:orange", linewidth=2))  # fmt: skip
        ax.set_title("same" if int(split.labels[i]) == 1 else "different")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():  # a full frame: the image's edge matters here
            spine.set_visible(True)
            spine.set_edgecolor("0.6")
    return fig


@_styled
def scores_with_lines(
    scores: Mapping[str, Sequence[float]],
    lines: Mapping[str, float],
    ylabel: str = "test accuracy",
) -> BookFigure:
    """:func:`fmnist_edu.plots.seed_scores` with labelled horizontal reference lines (SVG).

    ``lines`` maps a label (e.g. ``"chance"``) to its height; the lines are dashed and
    named in a legend above the axes.
    """
    fig = seed_scores.__wrapped__(scores, ylabel)  # the same figure, styled once, here
    ax = fig.axes[0]
    for (label, y), style in zip(lines.items(), ("--", ":", "-."), strict=False):
        ax.axhline(y, color="0.45", linestyle=style, linewidth=1.2, zorder=1, label=label)
    _legend_above(fig, ncols=max(len(lines), 1))
    return fig
