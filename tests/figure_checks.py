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
