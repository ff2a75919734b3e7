"""The Inductive bias chapter's figures follow the book's one style (see test_book_support)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from figure_checks import assert_column_wide_with_readable_text, assert_legend_off_the_data
from matplotlib.colors import to_rgb

from fmnist_edu import plots
from fmnist_edu import plots_inductive as pi


@pytest.fixture(scope="module")
def figures() -> dict:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(28, 28, generator=g)
    kernel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    signed = torch.randn(28, 28, generator=g)
    garment = torch.zeros(28, 28)
    garment[4:24, 6:20] = 0.9  # ink on a white background, as a Fashion-MNIST image
    rng = np.random.default_rng(0)
    shifts = list(range(-4, 5))
    curves = {m: {a: rng.uniform(0.5, 0.9, (3, 9)) for a in ("horizontal", "vertical")}
              for m in ("MLP", "CNN", "MLP + shift")}  # fmt: skip
    sizes = [100, 250, 500, 1000, 2000, 3252]
    difference = rng.uniform(-1, 5, 6)
    return {
        "image": image,
        "convolution_example": pi.convolution_example(image, kernel, signed, mark=(5, 6)),
        "equivariance_maps": pi.equivariance_maps(
            garment,
            (0, 3),
            signed,
            signed,
            signed,
            signed.abs(),
            torch.ones(28, 28, dtype=torch.bool),
        ),
        "shift_curves": pi.shift_curves(shifts, curves, dashed={"MLP + shift"}, trained_range=2),
        "sample_efficiency": pi.sample_efficiency(
            sizes,
            {"MLP": rng.uniform(0.5, 0.8, (3, 6)), "CNN": rng.uniform(0.5, 0.8, (3, 6))},
            difference,
            difference - 1,
            difference + 1,
        ),  # fmt: skip
        "filter_grid": pi.filter_grid(torch.randn(32, 1, 3, 3, generator=g)),
        "feature_maps": pi.feature_maps(
            torch.rand(3, 28, 28, generator=g),
            {"conv1": torch.rand(3, 4, 28, 28), "conv2": torch.rand(3, 3, 14, 14)},
            ["T-shirt", "Trouser", "Bag"],
            {"conv1": [f"1:{k}" for k in range(4)], "conv2": [f"2:{k}" for k in range(3)]},
        ),
    }


def test_every_figure_is_column_wide_with_readable_text(figures):
    assert_column_wide_with_readable_text({k: v for k, v in figures.items() if k != "image"})


def test_maps_are_png_and_charts_are_svg(figures):
    maps = {"convolution_example", "equivariance_maps", "filter_grid", "feature_maps"}
    for name, fig in figures.items():
        if name == "image":
            continue
        assert fig._repr_png_().startswith(b"\x89PNG"), name
        svg = fig._repr_svg_()
        assert (svg is None) == (name in maps), name


@pytest.mark.parametrize("name", ["shift_curves", "sample_efficiency"])
def test_legends_sit_off_the_data(figures, name):
    assert_legend_off_the_data(figures[name], name)


def test_signed_maps_are_symmetric_about_zero(figures):
    fig = figures["convolution_example"]
    kernel_image = fig.axes[1].images[0]
    low, high = kernel_image.get_clim()
    assert low == -high == -2.0
    assert pi.SIGNED_CMAP == "PuOr_r" and "purple" in pi.SIGNED_CONVENTION


def test_the_chapter_captions_state_the_colour_conventions():
    chapter = (Path(__file__).resolve().parent.parent / "book" / "inductive_bias.md").read_text()
    for convention in (plots.IMAGE_CONVENTION, pi.SIGNED_CONVENTION, pi.RESPONSE_CONVENTION):
        assert convention in chapter, convention[:40]


def _highlights(ax) -> list:
    return [p for p in ax.patches if p.get_edgecolor()[:3] == to_rgb(pi.HIGHLIGHT)]


def test_the_marked_output_pixel_and_its_window_stand_out(figures):
    input_ax, _, output_ax, window_ax = figures["convolution_example"].axes[::1][:4]
    for ax, side in ((input_ax, 3), (output_ax, 1), (window_ax, 3)):
        (box,) = _highlights(ax)
        assert box.get_linewidth() >= 3 and box.get_linestyle() == "-"
        assert (box.get_width(), box.get_height()) == (side, side)
        assert box.get_path_effects(), "a white halo keeps it visible on black ink"
    (arrow,) = output_ax.texts  # the arrow to the marked pixel
    assert arrow.xy == (6, 5)
    # The window panel shows the input's values around the marked pixel: (5, 6) +- 1.
    written = [float(t.get_text()) for t in window_ax.texts]
    assert written == pytest.approx(figures["image"][4:7, 5:8].flatten().tolist(), abs=0.006)


def test_the_shift_is_visible_between_x_and_shift_x(figures):
    fig = figures["equivariance_maps"]
    x_ax, moved_ax = fig.axes[:2]
    assert [ax.get_title() for ax in fig.axes[:6]] == [
        "x",
        "shift(x)",
        "conv(shift(x))",
        "conv(x)",
        "shift(conv(x))",
        "difference",
    ]
    for ax in (x_ax, moved_ax):  # framed, so the white background has an edge
        assert all(spine.get_visible() for spine in ax.spines.values())
    # The three columns the shift filled are tinted, on shift(x) only.
    (band,) = [p for p in moved_ax.patches if p.get_label() == "filled"]
    assert (band.get_x(), band.get_width()) == (-0.5, 3)
    assert not [p for p in x_ax.patches if p.get_label() == "filled"]
    # One garment pixel marked in both: in shift(x), three columns to the right.
    (before,) = [line for line in x_ax.lines if line.get_marker() == "o"]
    (after,) = [line for line in moved_ax.lines if line.get_marker() == "o"]
    assert before.get_xydata().tolist() == [[6, 4]] and after.get_xydata().tolist() == [[9, 4]]
    assert to_rgb(after.get_markeredgecolor()) == to_rgb(pi.HIGHLIGHT)


def test_feature_maps_stack_one_block_per_layer(figures):
    fig = figures["feature_maps"]
    assert [sub._suptitle.get_text() for sub in fig.subfigs] == ["conv1", "conv2"]
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.images]
    assert len(shown) == 3 * (1 + 4) + 3 * (1 + 3)
