"""Checks shared by the figure tests of every chapter's plotting module."""

from __future__ import annotations

import io
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def assert_legend_off_the_data(fig: Figure, name: str, artists: bool = False) -> None:
    """Fail when the figure's one legend overlaps an axes (and, if asked, any artist)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), name
        if artists:
            for artist in [*ax.patches, *ax.lines, *ax.collections]:
                assert not box.overlaps(artist.get_window_extent(renderer)), (name, artist)


def rendered_width_inches(fig: Figure) -> float:
    """Width of the figure as the book ships it (cropped to its content, with margins).

    This, not ``figsize``, is what a browser scales to the text column: text that spills
    past the axes widens the cropped image and shrinks everything in it on a phone.
    """
    from PIL import Image

    from fmnist_edu import plots

    if getattr(fig, "vector", True):
        svg = fig.render("svg").decode()
        return float(re.search(r'<svg[^>]* width="([0-9.]+)pt"', svg).group(1)) / 72
    png = Image.open(io.BytesIO(fig.render("png")))
    return png.size[0] / plots.PNG_DPI


def assert_column_wide_with_readable_text(figures: dict[str, Figure]) -> None:
    """Fail unless every figure is a column-wide BookFigure whose text stays readable on a
    390 px phone: at least ``plots.MIN_PHONE_TEXT_PX`` CSS px once the figure, as rendered
    (:func:`rendered_width_inches`), is scaled to the phone's text column."""
    from matplotlib.text import Text

    from fmnist_edu import plots

    for name, fig in figures.items():
        assert isinstance(fig, plots.BookFigure), name
        assert abs(fig.get_figwidth() - plots.TEXT_WIDTH) < 1e-9, name
        width = rendered_width_inches(fig)
        # The crop adds PAD_INCHES on each side; constrained layout may round a little.
        assert width <= plots.TEXT_WIDTH + 2 * plots.PAD_INCHES + 0.05, (name, width)
        fig.draw_without_rendering()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert texts, name
        small = {
            t.get_text(): t.get_fontsize()
            for t in texts
            if plots.phone_text_px(t.get_fontsize(), width) < plots.MIN_PHONE_TEXT_PX
        }
        assert not small, f"{name}: text under {plots.MIN_PHONE_TEXT_PX} CSS px on a phone: {small}"
