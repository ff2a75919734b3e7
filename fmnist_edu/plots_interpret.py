"""Figures of the Interpretability chapter, in the one style of :mod:`fmnist_edu.plots`.

Attribution maps follow two colour conventions (:data:`MAP_CONVENTION` says them for
captions): *signed* maps (evidence for the class in red, against it in blue) use a
diverging map centred at zero; *unsigned* maps (magnitudes) a sequential one from white.
Each map is divided by its own largest absolute value, so maps of different methods and
models, whose scales differ by orders of magnitude, are comparable in pattern; the
colour bars show that relative scale. Images are PNG, charts SVG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.interpret.methods import METHODS, as_inputs, attribute
from fmnist_edu.plots import (
    IMAGE_CMAP,
    SHORT_NAMES,
    TEXT_WIDTH,
    BookFigure,
    _figure,
    _legend_above,
    _styled,
)

SIGNED_CMAP = "RdBu_r"
UNSIGNED_CMAP = "Purples"
MAP_CONVENTION = (
    "Each map is scaled to its own largest absolute value. Signed maps are red where a "
    "pixel is evidence for the class and blue where it is evidence against, white at "
    "zero; unsigned maps (magnitudes) run from white (0) to dark purple (the largest)."
)
"""Sentences for captions of figures that show attribution maps (glue it)."""
#: One colour per method, the same in every chart; the random reference is black.
METHOD_COLOURS = dict(zip(METHODS, [f"C{i}" for i in range(len(METHODS))], strict=True))
#: One marker and one line style per method too, so that lines lying on top of each other
#: (Integrated Gradients and DeepLift often do) stay tellable apart, in grey print too.
METHOD_MARKERS = dict(zip(METHODS, ["o", "s", "^", "D", "v", "P", "X"], strict=True))
METHOD_LINESTYLES = dict(zip(METHODS, ["-", "--", ":", "-.", (0, (5, 1, 1, 1)), "-", (0, (1, 1))],
                             strict=True))  # fmt: skip
#: Horizontal offset between neighbouring methods' markers in a line chart of steps.
STEP_OFFSET = 0.06
SHORT_TITLES = {
    "saliency": "Saliency", "integrated-gradients": "Integrated\nGradients",
    "smoothgrad": "Smooth-\nGrad", "occlusion": "Occlusion", "grad-cam": "Grad-CAM",
    "guided-backprop": "Guided\nBackprop", "deeplift": "DeepLift",
}  # fmt: skip
#: Abbreviations for axes too narrow for the names (say them in the caption).
ABBREVIATIONS = {
    "saliency": "Sal", "integrated-gradients": "IG", "smoothgrad": "SG", "occlusion": "Occ",
    "grad-cam": "GC", "guided-backprop": "GBP", "deeplift": "DL",
}  # fmt: skip


def relative(maps: torch.Tensor) -> torch.Tensor:
    """Each map ``[..., 28, 28]`` divided by its largest absolute value (zeros stay 0)."""
    peak = maps.abs().flatten(-2).amax(-1)[..., None, None]
    return maps / peak.clamp(min=1e-12)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _show_map(ax, values: torch.Tensor, signed: bool):
    """Draw one map on the relative scale; return the image for a colour bar."""
    if signed:
        return ax.imshow(relative(values).numpy(), cmap=SIGNED_CMAP, vmin=-1, vmax=1)
    return ax.imshow(relative(values.abs()).numpy(), cmap=UNSIGNED_CMAP, vmin=0, vmax=1)


def _colour_bars(fig, axes, shown: Mapping[bool, object]) -> None:
    """One horizontal colour bar per kind of map present (signed, unsigned), below."""
    for signed, image in shown.items():
        bar = fig.colorbar(image, ax=axes, orientation="horizontal", location="bottom",
                           shrink=0.45, aspect=35, pad=0.02)  # fmt: skip
        bar.set_label("signed: attribution /\nits largest |value|" if signed
                      else "unsigned: attribution /\nits largest value")  # fmt: skip


@_styled
def attribution_grid(
    images: torch.Tensor,
    maps: Mapping[str, torch.Tensor],
    row_titles: Sequence[str],
) -> BookFigure:
    """Images (rows) by methods (columns): the image, then each method's map (PNG).

    ``maps`` holds ``[B, 28, 28]`` per method name of :data:`METHODS`. The columns are
    headed by :data:`ABBREVIATIONS` (say them in the caption), at the style's size.
    """
    columns = 1 + len(maps)
    cell = (TEXT_WIDTH - 1.2) / columns
    fig = _figure(len(images) * cell + 1.9, vector=False)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = np.atleast_2d(fig.subplots(len(images), columns))
    shown = {}
    for r, image in enumerate(images):
        axes[r, 0].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=255)
        axes[r, 0].set_ylabel(row_titles[r], rotation=0, ha="right", va="center")
        for c, (name, batch) in enumerate(maps.items(), start=1):
            signed = METHODS[name].signed
            shown[signed] = _show_map(axes[r, c], batch[r], signed)
            if r == 0:  # abbreviations: the full names do not fit a column at 12 pt
                axes[r, c].set_title(ABBREVIATIONS[name])
    axes[0, 0].set_title("image")
    for ax in axes.ravel():
        _bare(ax)
    _colour_bars(fig, axes.ravel().tolist(), dict(sorted(shown.items(), reverse=True)))
    return fig


@_styled
def map_rows(
    images: torch.Tensor, rows: Mapping[str, torch.Tensor], signed: bool = False
) -> BookFigure:
    """Images in the top row, then one row of maps ``[B, 28, 28]`` per label (PNG)."""
    columns = len(images)
    cell = (TEXT_WIDTH - 0.9) / columns
    fig = _figure((1 + len(rows)) * cell + 0.9, vector=False)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = np.atleast_2d(fig.subplots(1 + len(rows), columns))
    shown = None
    for c, image in enumerate(images):
        axes[0, c].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=255)
        for r, batch in enumerate(rows.values(), start=1):
            shown = _show_map(axes[r, c], batch[c], signed)
    for r, label in enumerate(["image", *rows]):
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    for ax in axes.ravel():
        _bare(ax)
    _colour_bars(fig, axes.ravel().tolist(), {signed: shown})
    return fig


@_styled
def sanity_grid(
    image: torch.Tensor,
    maps: Mapping[str, torch.Tensor],
    row_titles: Sequence[str],
) -> BookFigure:
    """One image's absolute maps: model states (rows) by methods (columns) (PNG).

    ``maps`` holds ``[states, 28, 28]`` per method: the trained model, each randomisation
    step, and any other model (e.g. the one trained on shuffled labels), one row each,
    titled by ``row_titles``, from the top down as the cascade goes. The image heads the
    first column; the methods are headed by :data:`ABBREVIATIONS`.
    """
    states = len(row_titles)
    columns = 1 + len(maps)
    cell = (TEXT_WIDTH - 1.3) / columns
    fig = _figure(states * cell + 1.9, vector=False)
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    axes = np.atleast_2d(fig.subplots(states, columns))
    shown = None
    axes[0, 0].imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=255)
    axes[0, 0].set_title("image")
    for r, title in enumerate(row_titles):
        axes[r, 0].set_ylabel(title, rotation=0, ha="right", va="center")
        for c, values in enumerate(maps.values(), start=1):
            shown = _show_map(axes[r, c], values[r], signed=False)
    for c, name in enumerate(maps, start=1):
        axes[0, c].set_title(ABBREVIATIONS[name])
    for ax in axes.ravel():
        _bare(ax)
    _colour_bars(fig, axes.ravel().tolist(), {False: shown})
    return fig


@_styled
def sanity_curves(
    steps: Sequence[str],
    cascade: Mapping[str, torch.Tensor],
    shuffled: Mapping[str, torch.Tensor],
    threshold: float,
) -> BookFigure:
    """Rank correlation with the trained model's maps as the model is broken (SVG).

    Left: along the cascading randomisation, ``cascade`` ``[seeds, steps, images]`` per
    method (mean over seeds and images; the band spans the seeds' means). Each method has
    its own colour, marker and line style (:data:`METHOD_MARKERS`,
    :data:`METHOD_LINESTYLES`) and is shifted sideways by :data:`STEP_OFFSET` from its
    neighbour, so that lines that coincide stay visible. Right: the model trained on
    shuffled labels, ``shuffled`` ``[seeds, images]`` per method (one dot per seed, a bar
    at the mean). The dashed line is the pass threshold. The legend uses
    :data:`ABBREVIATIONS` (say them in the caption).
    """
    fig = _figure(3.6)
    left, right = fig.subplots(1, 2, width_ratios=[2.2, 1.2], sharey=True)
    x = np.arange(len(steps), dtype=float)
    middle = (len(cascade) - 1) / 2
    for k, (name, values) in enumerate(cascade.items()):
        per_seed = values.double().mean(-1)  # [seeds, steps]
        shifted = x + STEP_OFFSET * (k - middle)  # lines on top of each other stay apart
        (line,) = left.plot(shifted, per_seed.mean(0), marker=METHOD_MARKERS[name], ms=5,
                            ls=METHOD_LINESTYLES[name], color=METHOD_COLOURS[name],
                            label=ABBREVIATIONS[name])  # fmt: skip
        left.fill_between(shifted, per_seed.min(0).values, per_seed.max(0).values,
                          color=line.get_color(), alpha=0.12)  # fmt: skip
    left.set_xticks(x, steps, rotation=30, ha="right", rotation_mode="anchor")
    left.set(xlabel="layers randomised, from the top", ylabel="rank correlation with\ntrained maps")
    for k, (name, values) in enumerate(shuffled.items()):
        per_seed = values.double().mean(-1)
        right.scatter([k] * len(per_seed), per_seed, s=22, color=METHOD_COLOURS[name],
                      marker=METHOD_MARKERS[name], zorder=3)  # fmt: skip
        right.plot([k - 0.3, k + 0.3], [float(per_seed.mean())] * 2, color="black", lw=1.2)
    right.set_xticks(range(len(shuffled)), [ABBREVIATIONS[n] for n in shuffled], rotation=90)
    right.set_xlabel("shuffled labels")
    right.set_xlim(-0.6, len(shuffled) - 0.4)
    for ax in (left, right):
        ax.axhline(threshold, color="0.4", ls="--", lw=1)
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    left.set_ylim(min(-0.1, left.get_ylim()[0]), 1.05)
    _legend_above(fig, ncols=4)
    return fig


@_styled
def deletion_curves(
    fractions: Sequence[float],
    curves: Mapping[str, torch.Tensor],
    random: str = "random",
    garment: Mapping[str, torch.Tensor] | None = None,
) -> BookFigure:
    """Mean probability of the true class as pixels are deleted, one line per order (SVG).

    ``curves`` holds ``[seeds, images, fractions]`` per method name, and the random order
    under ``random`` (drawn dashed, in black). ``garment``, the same for deletion among
    the garment's pixels only (``within=images > 0``), makes a second panel beside it.
    """
    panels = {"all 784 pixels": curves} | ({"garment pixels only": garment} if garment else {})
    fig = _figure(3.8 if garment else 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    percent = [100 * f for f in fractions]
    for p, (ax, (title, stack)) in enumerate(zip(axes, panels.items(), strict=True)):
        for name, values in stack.items():
            mean = values.double().mean((0, 1))
            label = "random order" if name == random else ABBREVIATIONS[name]
            label = label if p == 0 else f"_{label}"  # one legend entry per order
            if name == random:
                ax.plot(percent, mean, color="black", ls="--", lw=1.5, label=label)
            else:
                ax.plot(percent, mean, marker=METHOD_MARKERS[name], ms=4, label=label,
                        color=METHOD_COLOURS[name], ls=METHOD_LINESTYLES[name])  # fmt: skip
        ax.set(xlabel="pixels deleted (%)", ylim=(0, 1))
        if garment:
            ax.set_title(title)
    axes[0].set_ylabel("probability of the true class")
    _legend_above(fig, ncols=4)
    return fig


@_styled
def explanation(image: torch.Tensor, values: torch.Tensor, signed: bool, title: str) -> BookFigure:
    """One image and its map side by side, with a colour bar (PNG; the CLI's picture)."""
    fig = _figure(3.6, vector=False)
    image_ax, map_ax = fig.subplots(1, 2)
    image_ax.imshow(image.numpy(), cmap=IMAGE_CMAP, vmin=0, vmax=255)
    image_ax.set_title("image")
    shown = _show_map(map_ax, values, signed)
    map_ax.set_title(title)
    for ax in (image_ax, map_ax):
        _bare(ax)
    _colour_bars(fig, [image_ax, map_ax], {signed: shown})
    return fig


def explain_test_image(
    model: torch.nn.Module, split: Split, index: int, method: str, target: int | None = None
) -> tuple[BookFigure, str]:
    """Explain image ``index`` of ``split``: its figure, and one line saying what it shows.

    ``target`` is the class to explain (default: the model's prediction). Used by
    ``fmnist-edu explain``.

    Raises:
        ConfigError: an index outside the split or a class outside 0..9.
    """
    if not 0 <= index < len(split):
        raise ConfigError(
            f"index={index}: the test split holds {len(split):,} images; choose 0 to "
            f"{len(split) - 1:,}"
        )
    if target is not None and not 0 <= target < len(CLASS_NAMES):
        raise ConfigError(f"target={target}: choose a class from 0 to {len(CLASS_NAMES) - 1}")
    image, label = split.images[index : index + 1], int(split.labels[index])
    with torch.no_grad():
        probabilities = model(as_inputs(image)).softmax(1)[0]
    predicted = int(probabilities.argmax())
    target = predicted if target is None else target
    values = attribute(model, image, method, target)[0]
    spec = METHODS[method]
    title = f"{spec.title}: '{SHORT_NAMES[target]}'"
    line = (
        f"test image {index} ({CLASS_NAMES[label]}), predicted {CLASS_NAMES[predicted]} "
        f"(p = {float(probabilities[predicted]):.2f}); {spec.title} explains "
        f"'{CLASS_NAMES[target]}' (p = {float(probabilities[target]):.2f})"
    )
    return explanation(image[0], values, spec.signed, title), line
