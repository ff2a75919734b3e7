"""The Inductive bias chapter's figures follow the book's one style (see test_book_support)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from figure_checks import assert_column_wide_with_readable_text, assert_legend_off_the_data

from fmnist_edu import plots
from fmnist_edu import plots_inductive as pi


@pytest.fixture(scope="module")
def figures() -> dict:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(28, 28, generator=g)
    kernel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    signed = torch.randn(28, 28, generator=g)
    rng = np.random.default_rng(0)
    shifts = list(range(-4, 5))
    curves = {m: {a: rng.uniform(0.5, 0.9, (3, 9)) for a in ("horizontal", "vertical")}
              for m in ("MLP", "CNN", "MLP + shift")}  # fmt: skip
    sizes = [100, 250, 500, 1000, 2000, 3252]
    difference = rng.uniform(-1, 5, 6)
    return {
        "convolution_example": pi.convolution_example(image, kernel, signed, mark=(5, 6)),
        "equivariance_maps": pi.equivariance_maps(
            image, image, signed, signed, signed.abs(), torch.ones(28, 28, dtype=torch.bool)
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
            {"conv1": torch.rand(3, 4, 28, 28), "conv2": torch.rand(3, 4, 14, 14)},
            ["T-shirt", "Trouser", "Bag"],
            {"conv1": [f"1:{k}" for k in range(4)], "conv2": [f"2:{k}" for k in range(4)]},
        ),
    }


def test_every_figure_is_column_wide_with_readable_text(figures):
    assert_column_wide_with_readable_text(figures)


def test_maps_are_png_and_charts_are_svg(figures):
    maps = {"convolution_example", "equivariance_maps", "filter_grid", "feature_maps"}
    for name, fig in figures.items():
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
