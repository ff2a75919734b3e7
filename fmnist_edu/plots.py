"""The book's figure style, and the figures several chapters share.

Each function takes computed data and returns a matplotlib Figure. Figures of one chapter
live beside this module (``plots_dataset``, ``plots_architectures``, ``plots_inductive``,
``plots_design``, ``plots_interpret``, ``plots_beyond``, ``plots_deploy``) and are built
with its helpers, so every figure follows the one policy below.

Figures are built with the object API (``matplotlib.figure.Figure``), not pyplot, so
nothing is shown twice in a notebook and nothing leaks between figures.

How the figures are sized and rendered (one policy for every figure):

- **Width.** Every figure is :data:`TEXT_WIDTH` (5.8) inches wide, 557 CSS px at its
  natural size, plus a 0.05 in margin: on a desktop (text column 624 to 816 px) an SVG
  figure is shown at its natural size, so *n* pt in the figure reads as *n* pt.
- **Phones.** On a 390 px phone the theme gives a figure :data:`PHONE_COLUMN_PX` (327)
  CSS px (measured in the built book: the article's 343 px less the figure's 8 px padding
  on each side) and scales it down to that. Text must still be at least
  :data:`MIN_PHONE_TEXT_PX` (9) CSS px there (:func:`phone_text_px`), which for a figure
  rendered 5.9 in wide (margins included) asks for 11.9 pt: hence 12 pt for all text, and figures
  with many panels stack them (taller, fewer per row) rather than shrink the text.
- **Text.** One style, :data:`STYLE`, applied to every figure by :func:`_styled`: 12 pt
  for labels, ticks, titles, legends and the numbers written inside matrix cells. Tests
  hold every figure, as rendered, to the phone rule.
- **Format.** Charts and matrices are SVG (vector: sharp at any zoom, text drawn as paths
  so it needs no font on the reader's machine). Figures that are mostly image pixels (the
  example grid, the mean images) are PNG at :data:`PNG_DPI` (200 dpi, twice the usual
  resolution), because SVG would embed the same pixels at greater weight. The choice is
  made per figure (:class:`BookFigure`): a notebook shows the SVG where there is one,
  as myst-nb and JupyterLab prefer SVG over PNG.
- **Legends** sit above the axes, off the data.
- **Images** use the ``gray_r`` map: ink on paper, background white. Captions can say so
  with :data:`IMAGE_CONVENTION`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence

import matplotlib
import numpy as np
import torch
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

SHORT_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Boot")  # fmt: skip

TEXT_WIDTH = 5.8
"""Width of every figure in inches (557 CSS px at natural size): fits the text column."""
PHONE_COLUMN_PX = 327
"""Width a figure is shown at, in CSS px, on a 390 px wide phone (measured in the built
book: the theme's article margins and the figure's padding leave 327 px)."""
MIN_PHONE_TEXT_PX = 9.0
"""No figure text may render smaller than this many CSS px on that phone."""
PAD_INCHES = 0.05
"""Margin around a rendered figure."""
MIN_FONT_PT = 12.0
"""No text in a figure is smaller than this: 9.2 CSS px on a phone once a figure of
:data:`TEXT_WIDTH` and its margins is scaled to :data:`PHONE_COLUMN_PX`."""
FONT_PT = 12.0
"""Labels, ticks, titles and legends."""
CELL_FONT_PT = 12.0
"""Numbers written inside the cells of a 10 x 10 matrix."""
PNG_DPI = 200
"""Resolution of the figures that are PNG (images): 2x a 100-dpi screen."""

STYLE: dict[str, object] = {
    "figure.dpi": PNG_DPI,
    "savefig.dpi": "figure",
    "savefig.pad_inches": PAD_INCHES,
    "font.size": FONT_PT,
    "axes.titlesize": FONT_PT,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT,
    "legend.fontsize": FONT_PT,
    "legend.title_fontsize": FONT_PT,
    "figure.titlesize": FONT_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "svg.fonttype": "path",
    "svg.hashsalt": "fmnist-edu",  # reproducible SVG ids, so rebuilt pages do not churn
    "image.cmap": "gray_r",
}
"""The one plotting style, applied to every figure (rcParams)."""

IMAGE_CMAP = "gray_r"
"""Colour map of every Fashion-MNIST image: ink on paper."""
IMAGE_CONVENTION = (
    "Images are drawn as ink on paper: pixel value 0 (the background) is white and the "
    "largest value (255, or 1 on the models' scale) is black."
)
"""One sentence for captions of figures that show images (glue it)."""
_DIAGONAL_FACE = "0.93"
_DIAGONAL_HATCH = "0.72"


def phone_text_px(font_pt: float, width_in: float = TEXT_WIDTH + 2 * PAD_INCHES) -> float:
    """CSS px of ``font_pt`` text in a figure rendered ``width_in`` inches wide, on a 390 px
    phone (the default: a :data:`TEXT_WIDTH` figure with its margins).

    A figure is shown at its natural size (96 CSS px per inch) or scaled down to the
    width the phone gives it (:data:`PHONE_COLUMN_PX`), whichever is smaller.
    """
    scale = min(1.0, PHONE_COLUMN_PX / (96 * width_in))
    return font_pt * 96 / 72 * scale


class BookFigure(Figure):
    """A Figure that knows its output format for notebooks and the book.

    ``vector`` figures offer SVG (``_repr_svg_``), which notebook front ends and myst-nb
    prefer over PNG; the others offer PNG only, at the figure's dpi (:data:`PNG_DPI`).
    """

    vector: bool = True

    # Defined here so that matplotlib does not generate one whose docstring uses roles
    # that only matplotlib's own documentation knows (the API page would not build).
    def set(self, **kwargs):
        """Set several properties at once, as ``matplotlib.artist.Artist.set``."""
        return super().set(**kwargs)

    def render(self, fmt: str) -> bytes:
        """The figure as ``fmt`` ("svg" or "png") bytes, cropped as a notebook crops it."""
        buffer = io.BytesIO()
        with matplotlib.rc_context(STYLE):
            # The smallest font (and a PNG's dpi) travel in the file, so that a browser test
            # can measure the text's rendered size in CSS px (tools/a11y/phone.mjs).
            self.draw_without_rendering()
            fonts = [
                t.get_fontsize()
                for t in self.findobj(Text)
                if t.get_visible() and t.get_text().strip()
            ]
            note = f"fmnist-edu min_font_pt={min(fonts, default=0):g} dpi={self.dpi:g}"
            metadata = {"Description": note}
            if fmt == "svg":
                metadata["Date"] = None  # same figure, same bytes
            self.savefig(
                buffer, format=fmt, bbox_inches="tight", pad_inches=PAD_INCHES, metadata=metadata
            )
        return buffer.getvalue()

    def _repr_svg_(self) -> str | None:
        return self.render("svg").decode() if self.vector else None

    def _repr_png_(self) -> bytes:
        return self.render("png")


def _show_in_ipython() -> None:
    """Make IPython print a BookFigure with :meth:`BookFigure.render`, not its own printer.

    The inline backend (``%matplotlib inline``) registers a PNG printer for every
    ``Figure``, which wins over the figure's own ``_repr_*_`` methods and drops the note
    of the smallest font that the phone check reads (``tools/a11y/phone.mjs``). A printer
    registered for ``BookFigure`` is more specific, so it wins in turn, whenever the
    backend is selected. A vector figure is shown as SVG only (no second, PNG copy).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # no IPython: nothing to register
        return
    shell = get_ipython()
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(BookFigure, lambda f: None if f.vector else f._repr_png_())
    formatters["image/svg+xml"].for_type(BookFigure, BookFigure._repr_svg_)


_show_in_ipython()


def _figure(height: float, *, vector: bool = True) -> BookFigure:
    """A column-wide figure, ``height`` inches tall, to be built under :data:`STYLE`."""
    fig = BookFigure(figsize=(TEXT_WIDTH, height), dpi=PNG_DPI, layout="constrained")
    fig.vector = vector
    return fig


def _styled(build: Callable[..., BookFigure]) -> Callable[..., BookFigure]:
    """Build the figure under :data:`STYLE`, and fix the tick sizes for later redraws."""

    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> BookFigure:
        with matplotlib.rc_context(STYLE):
            fig = build(*args, **kwargs)
            for ax in fig.axes:  # ticks made at draw time would otherwise read global rc
                ax.tick_params(which="both", labelsize=FONT_PT)
        return fig

    return wrapper


def _legend_above(fig: Figure, ncols: int) -> None:
    """One legend for the figure, in a row above the axes: never on the data."""
    fig.legend(loc="outside upper center", ncols=ncols)


def _class_ticks(ax, axis: str = "x") -> None:
    ticks = list(range(len(SHORT_NAMES)))
    if axis == "x":
        ax.set_xticks(ticks, SHORT_NAMES, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_yticks(ticks, SHORT_NAMES)


@_styled
def image_row(
    images: torch.Tensor,
    titles: Sequence[str],
    cmap: str = IMAGE_CMAP,
    vmax: float | None = None,
    colorbar: str | None = "pixel value (0 = background)",
) -> BookFigure:
    """Show a few images side by side with titles (e.g. the per-class mean images) (PNG).

    Every image shares one scale, from 0 to ``vmax`` (default: 1 for images on the models'
    [0, 1] scale, else 255), shown by a colour bar labelled ``colorbar`` (None: no bar).
    """
    stack = torch.as_tensor(images).float()
    if vmax is None:
        vmax = 1.0 if float(stack.max()) <= 1.0 else 255.0
    columns = min(len(stack), 5)
    rows = -(-len(stack) // columns)
    fig = _figure(rows * 1.7 + (0.55 if colorbar else 0), vector=False)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    shown = None
    for ax, image, title in zip(axes, stack, titles, strict=False):
        shown = ax.imshow(image.numpy(), cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(title)
    for ax in axes:
        ax.axis("off")
    if colorbar and shown is not None:
        bar = fig.colorbar(shown, ax=axes.tolist(), orientation="horizontal",
                           location="bottom", shrink=0.5, aspect=40)  # fmt: skip
        bar.set_label(colorbar)
    return fig


def _text_colour(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba``."""
    r, g, b = rgba[:3]
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"


def _matrix(
    values: torch.Tensor,
    fmt: str,
    label: str,
    cmap: str,
    neutral_diagonal: bool,
    vmax: float | None = None,
) -> BookFigure:
    """A class-by-class matrix with its values written in the cells (shared by both kinds).

    With ``neutral_diagonal`` the diagonal cells are hatched grey and left out of the
    colour scale, so the off-diagonal cells use all of it. ``vmax`` fixes the top of the
    scale (default: the largest coloured value).
    """
    fig = _figure(TEXT_WIDTH * 1.08)
    ax = fig.subplots()
    n = values.shape[0]
    diagonal = torch.eye(n, dtype=torch.bool)
    coloured = values.masked_fill(diagonal, float("nan")) if neutral_diagonal else values
    finite = coloured[~coloured.isnan()]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if neutral_diagonal:
        low = 0.0
    if vmax is not None:
        high = float(vmax)
    norm = Normalize(vmin=low, vmax=high if high > low else low + 1)
    colours = matplotlib.colormaps[cmap].with_extremes(bad=_DIAGONAL_FACE)
    shown = ax.imshow(coloured.numpy(), cmap=colours, norm=norm)
    # The colour bar above the matrix, so the cells get the whole width for their numbers.
    fig.colorbar(shown, ax=ax, label=label, location="top", shrink=0.7, aspect=30)
    _class_ticks(ax, "x")
    _class_ticks(ax, "y")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    for i in range(n):
        for j in range(n):
            value = float(values[i, j])
            on_diagonal = neutral_diagonal and i == j
            if on_diagonal:
                ax.add_patch(Rectangle(
                    (j - 0.5, i - 0.5), 1, 1, facecolor=_DIAGONAL_FACE,
                    edgecolor=_DIAGONAL_HATCH, hatch="///", linewidth=0))  # fmt: skip
            colour = "black" if on_diagonal else _text_colour(colours(norm(value)))
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=CELL_FONT_PT,
                    color=colour, fontweight="bold" if on_diagonal else "normal",
                    bbox={"facecolor": _DIAGONAL_FACE, "edgecolor": "none", "pad": 0.5}
                    if on_diagonal else None)  # fmt: skip
    return fig


@_styled
def heatmap(
    matrix: Sequence[Sequence[float]],
    fmt: str = "{:.0f}",
    label: str = "",
    neutral_diagonal: bool = False,
) -> BookFigure:
    """A 10x10 class-by-class matrix (e.g. a similarity) with its values in the cells.

    ``neutral_diagonal``: draw the diagonal hatched grey, outside the colour scale (for a
    matrix whose diagonal is trivial, like a similarity's ones).
    """
    return _matrix(torch.as_tensor(matrix, dtype=torch.float64), fmt, label, "Blues",
                   neutral_diagonal)  # fmt: skip


def jitter(n: int, width: float = 0.24) -> list[float]:
    """Deterministic horizontal offsets for ``n`` dots, evenly spread over ``width``."""
    if n <= 1:
        return [0.0] * n
    return [-width / 2 + width * k / (n - 1) for k in range(n)]


@_styled
def seed_scores(scores: Mapping[str, Sequence[float]], ylabel: str = "test accuracy") -> BookFigure:
    """Each seed's score as a dot, with the mean and one standard deviation as a bar.

    The dots of one model are spread sideways (:func:`jitter`, in seed order), so equal
    scores stay visible; the mean ± one standard deviation is drawn beside them.
    """
    fig = _figure(3.2)
    ax = fig.subplots()
    for x, values in enumerate(scores.values()):
        v = torch.tensor(values, dtype=torch.float64)
        std = float(v.std()) if len(v) > 1 else 0.0
        ax.errorbar(x + 0.28, float(v.mean()), yerr=std, fmt="_", ms=16, capsize=5,
                    color="black", zorder=2)  # fmt: skip
        offsets = jitter(len(v))
        ax.scatter([x - 0.08 + o for o in offsets], v.numpy(), s=30, alpha=0.8, zorder=3,
                   edgecolors="white", linewidths=0.5)  # fmt: skip
    ax.set_xticks(range(len(scores)), list(scores))
    ax.set_xlim(-0.6, len(scores) - 0.4)
    ax.set_ylabel(ylabel)
    return fig
