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


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _symmetric(*maps: torch.Tensor) -> Normalize:
    """One scale, symmetric about zero, that fits every map."""
    top = max(float(torch.as_tensor(m).abs().max()) for m in maps) or 1.0
    return Normalize(-top, top)


def _outline(ax, top: int, left: int, height: int, width: int, colour: str = "black") -> None:
    """Outline the pixels ``[top, top + height) x [left, left + width)`` of an image axis."""
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), width, height, fill=False,
                           edgecolor=colour, linewidth=1.5, linestyle="--"))  # fmt: skip


@_styled
def convolution_example(
    image: torch.Tensor, kernel: torch.Tensor, output: torch.Tensor, mark: tuple[int, int]
) -> BookFigure:
    """Input ``[H, W]`` (in [0, 1]), ``k x k`` kernel and output ``[H, W]``, side by side (PNG).

    The kernel's weights are written in its cells. ``mark = (i, j)``: the output pixel
    outlined on the output, and the ``k x k`` window it reads outlined on the input.
    """
    fig = _figure(2.9, vector=False)
    axes = fig.subplots(1, 3, width_ratios=[1, 0.62, 1])
    k = kernel.shape[-1]
    shown = axes[0].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=1)
    fig.colorbar(shown, ax=axes[0], shrink=0.8, label="pixel value")
    norm = _symmetric(kernel)
    axes[1].imshow(kernel.numpy(), cmap=SIGNED_CMAP, norm=norm)
    colours = matplotlib.colormaps[SIGNED_CMAP]
    for a in range(k):
        for b in range(k):
            value = float(kernel[a, b])
            axes[1].text(b, a, f"{value:g}", ha="center", va="center",
                         color=_text_colour(colours(norm(value))))  # fmt: skip
    shown = axes[2].imshow(output.numpy(), cmap=SIGNED_CMAP, norm=_symmetric(output))
    fig.colorbar(shown, ax=axes[2], shrink=0.8, label="output value")
    i, j = mark
    _outline(axes[0], i - k // 2, j - k // 2, k, k)
    _outline(axes[2], i, j, 1, 1)
    titles = (f"input x ({image.shape[0]} × {image.shape[1]})", f"kernel K ({k} × {k})",
              f"output ({output.shape[0]} × {output.shape[1]})")  # fmt: skip
    for ax, title in zip(axes, titles, strict=True):
        _bare(ax)
        ax.set_title(title)
    return fig


@_styled
def equivariance_maps(
    image: torch.Tensor,
    moved: torch.Tensor,
    conv_of_moved: torch.Tensor,
    moved_conv: torch.Tensor,
    difference: torch.Tensor,
    interior: torch.Tensor,
) -> BookFigure:
    """Shift, then convolve, against convolve, then shift; and their difference (PNG).

    ``image`` and ``moved`` are ``[H, W]`` in [0, 1]; the two outputs share one signed
    scale; ``difference`` (``|a - b|``, ``[H, W]``) is drawn with the interior
    (``bool [H, W]``, see :func:`fmnist_edu.equivariance.interior_mask`) outlined.
    """
    fig = _figure(2.35, vector=False)
    axes = fig.subplots(1, 5)
    for ax, picture in zip(axes[:2], (image, moved), strict=True):
        ax.imshow(picture.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=1)
    norm = _symmetric(conv_of_moved, moved_conv)
    for ax, out in zip(axes[2:4], (conv_of_moved, moved_conv), strict=True):
        ax.imshow(out.numpy(), cmap=SIGNED_CMAP, norm=norm)
    shown = axes[4].imshow(difference.numpy(), cmap=RESPONSE_CMAP, vmin=0,
                           vmax=float(difference.max()) or 1.0)  # fmt: skip
    rows, cols = torch.nonzero(interior.any(1)).flatten(), torch.nonzero(interior.any(0)).flatten()
    if len(rows) and len(cols):
        _outline(axes[4], int(rows[0]), int(cols[0]), len(rows), len(cols), colour="0.35")
    fig.colorbar(shown, ax=axes[4], shrink=0.75, label="|difference|")
    titles = ("x", "shift(x)", "conv(shift(x))", "shift(conv(x))", "difference")
    for ax, title in zip(axes, titles, strict=True):
        _bare(ax)
        ax.set_title(title)
    return fig


@_styled
def shift_curves(
    shifts: Sequence[int],
    accuracies: Mapping[str, Mapping[str, np.ndarray]],
    colours: Mapping[str, str] | None = None,
    dashed: Collection[str] = (),
    trained_range: int | None = None,
) -> BookFigure:
    """Test accuracy against the shift, one panel per axis: mean over seeds, band = min..max.

    Args:
        shifts: the shifts in pixels, e.g. ``-4 .. 4``.
        accuracies: ``{model: {"horizontal": [seeds, S], "vertical": [seeds, S]}}``.
        colours: a colour per model (default: matplotlib's cycle).
        dashed: models drawn with dashed lines (e.g. the augmented ones).
        trained_range: shade ``[-r, r]``, the shifts the augmented models trained on.
    """
    fig = _figure(3.3)
    axes = fig.subplots(1, 2, sharey=True)
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
    axes[0].set_ylabel("test accuracy")
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
) -> BookFigure:
    """Accuracy against training-set size (left) and the two models' difference (right).

    Args:
        sizes: training images per run (log axis).
        accuracies: ``{model: [seeds, len(sizes)]}``; mean line, band = min..max seed.
        difference, low, high: per size, the difference of mean accuracies in points and
            its interval (e.g. from :func:`fmnist_edu.comparison.compare`).
    """
    fig = _figure(3.3)
    acc_ax, diff_ax = fig.subplots(1, 2)
    for label, values in accuracies.items():
        values = np.asarray(values)
        (line,) = acc_ax.plot(sizes, values.mean(0), marker="o", ms=4, label=label)
        acc_ax.fill_between(sizes, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
    difference, low, high = map(np.asarray, (difference, low, high))
    diff_ax.axhline(0, color="0.5", linewidth=1)
    diff_ax.errorbar(sizes, difference, yerr=[difference - low, high - difference], fmt="o",
                     color="black", capsize=4, ms=4, label="95% interval")  # fmt: skip
    for ax in (acc_ax, diff_ax):
        ax.set_xscale("log")
        ax.set_xticks(list(sizes), [f"{s:,}" for s in sizes], rotation=45, ha="right",
                      rotation_mode="anchor")  # fmt: skip
        ax.minorticks_off()
        ax.set_xlabel("training images")
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
) -> BookFigure:
    """A few images (rows) and some channels of each layer's responses (columns) (PNG).

    Args:
        images: ``[R, H, W]`` in [0, 1].
        layers: ``{layer: responses [R, C, h, w]}``, non-negative (after a ReLU), each
            channel drawn on its own scale, from 0 to its largest value over the ``R`` images
            (a weak channel would otherwise be a blank column).
        row_titles: one per image (e.g. its class).
        column_titles: ``{layer: one title per channel shown}``.
    """
    columns = 1 + sum(out.shape[1] for out in layers.values())
    cell = (TEXT_WIDTH - 1.0) / columns
    fig = _figure(len(images) * cell * 1.05 + 0.55, vector=False)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = np.atleast_2d(fig.subplots(len(images), columns))
    for r, image in enumerate(images):
        axes[r, 0].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=1)
        axes[r, 0].set_ylabel(row_titles[r], rotation=0, ha="right", va="center")
        c = 1
        for name, out in layers.items():
            for k in range(out.shape[1]):
                top = float(out[:, k].max()) or 1.0
                axes[r, c].imshow(out[r, k].numpy(), cmap=RESPONSE_CMAP, vmin=0, vmax=top)
                if r == 0:
                    axes[r, c].set_title(column_titles[name][k])
                c += 1
    for ax in axes.ravel():
        _bare(ax)
    return fig
