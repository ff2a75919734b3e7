"""The figures of "When not to use CNNs" follow the book's one style (see test_book_support)."""

from __future__ import annotations

import numpy as np
import pytest
from figure_checks import assert_column_wide_with_readable_text, assert_legend_off_the_data
from matplotlib.patches import Rectangle

from fmnist_edu import plots_beyond as pb
from fmnist_edu.beyond import longrange


@pytest.fixture(scope="module")
def figures() -> dict:
    rng = np.random.default_rng(0)
    pairs, centres = longrange.examples()
    return {
        "order_scores": pb.order_scores({m: rng.uniform(0.8, 1.0, (4, 3))
                                         for m in ("1-D CNN", "MLP", "boosted trees")}),
        "mark_pairs": pb.mark_pairs(pairs, 5, centres),
        "scores_with_lines": pb.scores_with_lines(
            {"a": [0.5, 0.5, 0.5], "b": [0.9, 1.0, 1.0]}, {"ceiling": 0.75, "chance": 0.5}),
    }  # fmt: skip


def test_every_figure_is_column_wide_with_readable_text(figures):
    assert_column_wide_with_readable_text(figures)


def test_images_are_png_and_charts_are_svg(figures):
    for name, fig in figures.items():
        assert fig._repr_png_().startswith(b"\x89PNG"), name
        assert (fig._repr_svg_() is None) == (name == "mark_pairs"), name


@pytest.mark.parametrize("name", ["order_scores", "scores_with_lines"])
def test_legends_sit_off_the_data(figures, name):
    assert_legend_off_the_data(figures[name], name)


def test_the_orders_and_the_lines_are_drawn(figures):
    ax = figures["order_scores"].axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(dots) == 3 * 4  # one per model and order
    lines = {line.get_label(): line for line in figures["scores_with_lines"].axes[0].get_lines()}
    assert list(lines["ceiling"].get_ydata()) == [0.75, 0.75]
    assert list(lines["chance"].get_ydata()) == [0.5, 0.5]
    boxes = [p for ax in figures["mark_pairs"].axes for p in ax.patches if isinstance(p, Rectangle)]
    assert len(boxes) == 4 and all(b.get_width() == 5 for b in boxes)
