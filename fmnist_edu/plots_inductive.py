"""The figures of the Inductive bias chapter, in the book's one style (see :mod:`fmnist_edu.plots`).

Three kinds of maps appear, each with one colour convention that captions can glue:

- images: :data:`fmnist_edu.plots.IMAGE_CONVENTION` (ink on paper);
- signed values (kernel weights, a convolution's output): :data:`SIGNED_CONVENTION`;
- responses after a ReLU (never negative): :data:`RESPONSE_CONVENTION`.

Charts are SVG; figures made of maps are PNG (:data:`fmnist_edu.plots.PNG_DPI`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import matplotlib
import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle

from fmnist_edu.plots import (
    IMAGE_CMAP,
    TEXT_WIDTH,
    BookFigure,
    _figure,
    _legend_above,
    _styled,
    _text_colour,
)
from fmnist_edu.transforms import shift

SIGNED_CMAP = "PuOr_r"
"""Colour map of signed values: negative purple, zero white, positive orange."""
RESPONSE_CMAP = "Oranges"
"""Colour map of ReLU responses: zero white, the strongest response dark orange."""
SIGNED_CONVENTION = (
    "Signed values (kernel weights, convolution outputs) are purple where negative, white at "
    "zero and orange where positive, on a scale symmetric about zero."
)
"""One sentence for captions of figures with signed maps."""
RESPONSE_CONVENTION = (
    "Responses after the ReLU are white at zero and darker orange where stronger, on one scale "
    "per channel (dark orange is that channel's largest response in the figure)."
)
"""One sentence for captions of figures with response maps."""
HIGHLIGHT = "#00a2d8"
"""Colour of what a figure points out (a pixel, a window, a moved garment): a cyan found in
none of the colour maps, visible on paper, on ink and on both signed colours."""
HIGHLIGHT_WIDTH = 3.0
"""Line width (pt) of a highlight's outline."""


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _symmetric(*maps: torch.Tensor) -> Normalize:
    """One scale, symmetric about zero, that fits every map."""
    top = max(float(torch.as_tensor(m).abs().max()) for m in maps) or 1.0
    return Normalize(-top, top)


def _outline(
    ax, top: int, left: int, height: int, width: int, colour: str = "black", **style
) -> Rectangle:
    """Outline the pixels ``[top, top + height) x [left, left + width)`` of an image axis."""
    style = {"linewidth": 1.5, "linestyle": "--", **style}
    return ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False,
                                  edgecolor=colour, **style))  # fmt: skip


def _highlight(ax, top: int, left: int, size: int) -> Rectangle:
    """Outline ``size x size`` pixels in :data:`HIGHLIGHT`, with a white halo: it stands
    out on white paper, on black ink and on both ends of the signed colour map."""
    box = _outline(ax, top, left, size, size, HIGHLIGHT, linewidth=HIGHLIGHT_WIDTH, linestyle="-")
    box.set_path_effects([patheffects.Stroke(linewidth=HIGHLIGHT_WIDTH + 2.5, foreground="white"),
                          patheffects.Normal()])  # fmt: skip
    return box


@_styled
def convolution_example(
    image: torch.Tensor, kernel: torch.Tensor, output: torch.Tensor, mark: tuple[int, int]
) -> BookFigure:
    """Input ``[H, W]`` (in [0, 1]) and ``k x k`` kernel above, the output ``[H, W]`` below (PNG).

    The kernel's weights are written in its cells. ``mark = (i, j)``: the output pixel
    highlighted on the output (:func:`_highlight`, with an arrow to it), and the ``k x k``
    window it reads highlighted on the input, and shown with its values to the output's right.
    """
    fig = _figure(5.6, vector=False)
    axes = fig.subplots(2, 2, width_ratios=[1, 0.7]).ravel()
    k, (i, j) = kernel.shape[-1], mark
    r = k // 2
    shown = axes[0].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=1)
    fig.colorbar(shown, ax=axes[0], shrink=0.8, label="pixel value")
    padded = torch.nn.functional.pad(image, (r, r, r, r))  # zero padding, as the layer reads it
    _write_cells(axes[1], kernel, SIGNED_CMAP, _symmetric(kernel), "{:g}")
    _write_cells(axes[3], padded[i : i + k, j : j + k], IMAGE_CMAP, Normalize(0, 1), "{:.2f}")
    shown = axes[2].imshow(output.numpy(), cmap=SIGNED_CMAP, norm=_symmetric(output))
    fig.colorbar(shown, ax=axes[2], shrink=0.8, label="output value")
    _highlight(axes[0], i - r, j - r, k)
    _highlight(axes[2], i, j, 1)
    _highlight(axes[3], 0, 0, k)
    away = 1 if j < output.shape[1] / 2 else -1  # point from the side with more room
    axes[2].annotate("", (j, i), (j + away * 7, i - 5), arrowprops={
        "arrowstyle": "-|>", "color": HIGHLIGHT, "linewidth": 2})  # fmt: skip
    titles = (f"input x ({image.shape[0]} × {image.shape[1]})", f"kernel K ({k} × {k})",
              f"output ({output.shape[0]} × {output.shape[1]})", "x window")  # fmt: skip
    for ax, title in zip(axes, titles, strict=True):
        _bare(ax)
        ax.set_title(title)
    return fig


def _write_cells(ax, values: torch.Tensor, cmap: str, norm: Normalize, fmt: str) -> None:
    """A small matrix drawn as coloured cells with each value written in its cell."""
    ax.imshow(values.numpy(), cmap=cmap, norm=norm)
    colours = matplotlib.colormaps[cmap]
    for (a, b), value in np.ndenumerate(values.numpy()):
        ax.text(b, a, fmt.format(float(value)), ha="center", va="center",
                color=_text_colour(colours(norm(float(value)))))  # fmt: skip


def _frame(ax) -> None:
    """Draw an image axis's frame, so that a moved garment shows against it."""
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor("0.45")
        spine.set_linewidth(1)


@_styled
def equivariance_maps(
    image: torch.Tensor,
    move: tuple[int, int],
    conv_of_moved: torch.Tensor,
    conv: torch.Tensor,
    moved_conv: torch.Tensor,
    difference: torch.Tensor,
    interior: torch.Tensor,
) -> BookFigure:
    """Shift, then convolve (top row) against convolve, then shift (bottom row) (PNG).

    ``image`` is ``[H, W]`` in [0, 1] and ``move = (down, right)`` in pixels; the top row
    shows ``x``, ``shift(x)`` (computed here, with :func:`fmnist_edu.transforms.shift`) and
    ``conv(shift(x))``; the bottom row ``conv(x)``, ``shift(conv(x))`` and their absolute
    difference ``[H, W]``, with the interior (``bool [H, W]``, see
    :func:`fmnist_edu.equivariance.interior_mask`) outlined. The three outputs share one
    signed scale. To make the move visible, both images are framed, the columns (or rows)
    the shift filled are tinted in :data:`HIGHLIGHT`, a vertical line marks the garment's
    leftmost ink column in ``x``, and the pixel where the line meets the garment is marked
    in ``x`` and, moved, in ``shift(x)``.
    """
    moved = shift(image[None, None], *move)[0, 0]
    fig = _figure(4.6, vector=False)
    axes = fig.subplots(2, 3)
    for ax, picture in zip(axes[0, :2], (image, moved), strict=True):
        ax.imshow(picture.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=1)
    norm = _symmetric(conv_of_moved, conv, moved_conv)
    for ax, out in zip((axes[0, 2], axes[1, 0], axes[1, 1]), (conv_of_moved, conv, moved_conv),
                       strict=True):  # fmt: skip
        ax.imshow(out.numpy(), cmap=SIGNED_CMAP, norm=norm)
    shown = axes[1, 2].imshow(difference.numpy(), cmap=RESPONSE_CMAP, vmin=0,
                              vmax=float(difference.max()) or 1.0)  # fmt: skip
    rows, cols = torch.nonzero(interior.any(1)).flatten(), torch.nonzero(interior.any(0)).flatten()
    if len(rows) and len(cols):
        _outline(axes[1, 2], int(rows[0]), int(cols[0]), len(rows), len(cols), colour="0.35")
    fig.colorbar(shown, ax=axes[1, 2], shrink=0.8, label="|difference|")
    titles = ("x", "shift(x)", "conv(shift(x))", "conv(x)", "shift(conv(x))", "difference")
    for ax, title in zip(axes.ravel(), titles, strict=True):
        _bare(ax)
        ax.set_title(title)
    _mark_move(axes[0, 0], axes[0, 1], image, move)
    return fig


def _mark_move(before, after, image: torch.Tensor, move: tuple[int, int]) -> None:
    """Frame both images, tint the filled band, and mark one pixel before and after."""
    down, right = move
    height, width = image.shape
    for ax in (before, after):
        _frame(ax)
    if right:  # the columns the shift filled with background
        left = 0 if right > 0 else width + right
        after.add_patch(Rectangle((left - 0.5, -0.5), abs(right), height, color=HIGHLIGHT,
                                  alpha=0.35, linewidth=0, label="filled"))  # fmt: skip
    if down:
        top = 0 if down > 0 else height + down
        after.add_patch(Rectangle((-0.5, top - 0.5), width, abs(down), color=HIGHLIGHT,
                                  alpha=0.35, linewidth=0, label="filled"))  # fmt: skip
    ink = torch.nonzero(image > 0.5)
    if not len(ink):
        return
    row, col = (int(v) for v in ink[ink[:, 1].argmin()])  # a pixel of the leftmost ink column
    for ax in (before, after):
        ax.axvline(col, color=HIGHLIGHT, linewidth=1.5, linestyle="--")
    before.plot(col, row, "o", ms=7, mfc="none", mec=HIGHLIGHT, mew=2.5)
    after.plot(col + right, row + down, "o", ms=7, mfc="none", mec=HIGHLIGHT, mew=2.5)


@_styled
def shift_curves(
    shifts: Sequence[int],
    accuracies: Mapping[str, Mapping[str, np.ndarray]],
    colours: Mapping[str, str] | None = None,
    dashed: Collection[str] = (),
    trained_range: int | None = None,
) -> BookFigure:
    """Test accuracy against the shift, one panel per axis, stacked: mean over seeds, band =
    min..max seed.

    Args:
        shifts: the shifts in pixels, e.g. ``-4 .. 4``.
        accuracies: ``{model: {"horizontal": [seeds, S], "vertical": [seeds, S]}}``.
        colours: a colour per model (default: matplotlib's cycle).
        dashed: models drawn with dashed lines (e.g. the augmented ones).
        trained_range: shade ``[-r, r]``, the shifts the augmented models trained on.
    """
    fig = _figure(6.2)
    axes = fig.subplots(2, 1, sharey=True)
    for p, axis in enumerate(("horizontal", "vertical")):
        ax = axes[p]
        if trained_range is not None:
            ax.axvspan(-trained_range - 0.5, trained_range + 0.5, color="0.92", zorder=0,
                       label="shifts seen in augmented training" if p == 0 else None)  # fmt: skip
        for label, curves in accuracies.items():
            values = np.asarray(curves[axis])
            (line,) = ax.plot(shifts, values.mean(0), marker="o", ms=4,
                              color=(colours or {}).get(label), label=label if p == 0 else None,
                              linestyle="--" if label in dashed else "-")  # fmt: skip
            ax.fill_between(shifts, values.min(0), values.max(0),
                            color=line.get_color(), alpha=0.2)  # fmt: skip
        ax.set_xticks(list(shifts))
        ax.set_xlabel(f"{axis} shift (pixels)")
        ax.set_ylabel("test accuracy")
    _legend_above(fig, ncols=2)
    return fig


@_styled
def sample_efficiency(
    sizes: Sequence[int],
    accuracies: Mapping[str, np.ndarray],
    difference: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    difference_label: str = "CNN minus MLP (points)",
    confidence: float = 0.95,
) -> BookFigure:
    """Accuracy against training-set size (top) and the two models' difference (bottom).

    Args:
        sizes: training images per run (log axis).
        accuracies: ``{model: [seeds, len(sizes)]}``; mean line, band = min..max seed.
        difference, low, high: per size, the difference of mean accuracies in points and
            its interval (e.g. from :func:`fmnist_edu.comparison.compare`).
        difference_label: the lower panel's axis label.
        confidence: the interval's coverage, for the legend.
    """
    fig = _figure(6.4)
    acc_ax, diff_ax = fig.subplots(2, 1, sharex=True)
    for label, values in accuracies.items():
        values = np.asarray(values)
        (line,) = acc_ax.plot(sizes, values.mean(0), marker="o", ms=4, label=label)
        acc_ax.fill_between(sizes, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
    difference, low, high = map(np.asarray, (difference, low, high))
    diff_ax.axhline(0, color="0.5", linewidth=1)
    diff_ax.errorbar(sizes, difference, yerr=[difference - low, high - difference], fmt="o",
                     color="black", capsize=4, ms=4,
                     label=f"{confidence:.0%} interval")  # fmt: skip
    diff_ax.set_xscale("log")
    diff_ax.set_xticks(list(sizes), [f"{s:,}" for s in sizes])
    diff_ax.minorticks_off()
    diff_ax.set_xlabel("training images")
    acc_ax.set_ylabel("test accuracy")
    diff_ax.set_ylabel(difference_label)
    _legend_above(fig, ncols=3)
    return fig


@_styled
def filter_grid(weight: torch.Tensor, columns: int = 8) -> BookFigure:
    """A first layer's filters ``[C, 1, k, k]`` as small maps on one symmetric scale (PNG)."""
    kernels = weight.detach()[:, 0]
    rows = -(-len(kernels) // columns)
    cell = (TEXT_WIDTH - 1.2) / columns
    fig = _figure(rows * cell + 0.2, vector=False)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    norm = _symmetric(kernels)
    shown = None
    for n, ax in enumerate(axes):
        _bare(ax)
        if n < len(kernels):
            shown = ax.imshow(kernels[n].numpy(), cmap=SIGNED_CMAP, norm=norm)
    if shown is not None:
        fig.colorbar(shown, ax=axes.tolist(), shrink=0.8, label="weight")
    return fig


@_styled
def feature_maps(
    images: torch.Tensor,
    layers: Mapping[str, torch.Tensor],
    row_titles: Sequence[str],
    column_titles: Mapping[str, Sequence[str]],
    block_titles: Mapping[str, str] | None = None,
) -> BookFigure:
    """A few images (rows) and some channels of each layer's responses (columns) (PNG).

    One block per layer, stacked, each repeating the images in its first column, so that
    the maps stay large on a phone.

    Args:
        images: ``[R, H, W]`` in [0, 1].
        layers: ``{layer: responses [R, C, h, w]}``, non-negative (after a ReLU), each
            channel drawn on its own scale, from 0 to its largest value over the ``R`` images
            (a weak channel would otherwise be a blank column).
        row_titles: one per image (e.g. its class).
        column_titles: ``{layer: one title per channel shown}``.
        block_titles: ``{layer: a title above its block}`` (default: the layer's name).
    """
    columns = 1 + max(out.shape[1] for out in layers.values())
    cell = (TEXT_WIDTH - 1.1) / columns
    block = len(images) * cell * 1.04 + 0.75  # the maps, the column titles and the block's
    fig = _figure(block * len(layers), vector=False)
    for sub, (name, out) in zip(np.atleast_1d(fig.subfigures(len(layers), 1)), layers.items(),
                                strict=True):  # fmt: skip
        sub.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        sub.suptitle((block_titles or {}).get(name, name))
        axes = np.atleast_2d(sub.subplots(len(images), columns))
        for r, image in enumerate(images):
            axes[r, 0].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=1)
            axes[r, 0].set_ylabel(row_titles[r], rotation=0, ha="right", va="center")
            for k in range(out.shape[1]):
                top = float(out[:, k].max()) or 1.0
                axes[r, k + 1].imshow(out[r, k].numpy(), cmap=RESPONSE_CMAP, vmin=0, vmax=top)
                if r == 0:
                    axes[r, k + 1].set_title(column_titles[name][k])
        for ax in axes.ravel():
            _bare(ax)
        for ax in axes[:, 1 + out.shape[1] :].ravel():
            ax.set_visible(False)
    return fig
