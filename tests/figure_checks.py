"""Checks shared by the figure tests of every chapter's plotting module."""

from __future__ import annotations

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


def assert_column_wide_with_readable_text(figures: dict[str, Figure]) -> None:
    """Fail unless every figure is a column-wide BookFigure whose text stays readable on a
    390 px phone (at least ``plots.MIN_PHONE_TEXT_PX`` CSS px once scaled to its column)."""
    from matplotlib.text import Text

    from fmnist_edu import plots

    for name, fig in figures.items():
        assert isinstance(fig, plots.BookFigure), name
        assert abs(fig.get_figwidth() - plots.TEXT_WIDTH) < 1e-9, name
        fig.draw_without_rendering()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert texts, name
        width = fig.get_figwidth()
        small = {
            t.get_text(): t.get_fontsize()
            for t in texts
            if plots.phone_text_px(t.get_fontsize(), width) < plots.MIN_PHONE_TEXT_PX
        }
        assert not small, f"{name}: text under {plots.MIN_PHONE_TEXT_PX} CSS px on a phone: {small}"
