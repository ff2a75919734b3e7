"""The Interpretability chapter's figures follow the book's one style."""

from __future__ import annotations

import pytest
import torch
from matplotlib.text import Text

from fmnist_edu import data, interpret, models, plots
from fmnist_edu import plots_interpret as iplots
from fmnist_edu.errors import ConfigError


@pytest.fixture(scope="module")
def figures(subset) -> dict:
    generator = torch.Generator().manual_seed(0)
    images = subset.test.images[:3]
    maps = {m: torch.randn(3, 28, 28, generator=generator) for m in interpret.METHODS}
    states = {m: torch.rand(6, 28, 28, generator=generator) for m in interpret.METHODS}
    steps = ["trained", "+ fc2", "+ fc1", "+ conv2", "+ conv1"]
    cascade = {m: torch.rand(3, 5, 8, generator=generator) for m in interpret.METHODS}
    shuffled = {m: torch.rand(3, 8, generator=generator) for m in interpret.METHODS}
    curves = {m: torch.rand(3, 8, 9, generator=generator) for m in [*interpret.METHODS, "random"]}
    return {
        "grid": iplots.attribution_grid(images, maps, ["T-shirt", "Shirt\n→ T-shirt", "Coat"]),
        "rows": iplots.map_rows(images, {"CNN": maps["saliency"], "MLP": maps["occlusion"]}),
        "sanity_grid": iplots.sanity_grid(images[0], states, [*steps, "shuffled"]),
        "sanity_curves": iplots.sanity_curves(steps, cascade, shuffled, 0.5),
        "deletion": iplots.deletion_curves(interpret.FRACTIONS, curves),
        "explanation": iplots.explanation(images[0], maps["deeplift"][0], True, "DeepLift"),
    }


def test_figures_are_book_figures_with_readable_text(figures):
    for name, fig in figures.items():
        assert isinstance(fig, plots.BookFigure), name
        fig.draw_without_rendering()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        small = {t.get_text(): t.get_fontsize() for t in texts if t.get_fontsize() < 9}
        assert not small, f"{name}: text under {plots.MIN_FONT_PT} pt: {small}"
        if name != "explanation":  # the CLI's picture is narrower than the column
            assert fig.get_figwidth() == pytest.approx(plots.TEXT_WIDTH), name


def test_maps_are_png_and_charts_svg(figures):
    for name in ("grid", "rows", "sanity_grid", "explanation"):
        assert figures[name]._repr_svg_() is None and figures[name].render("png")[:4] == b"\x89PNG"
    for name in ("sanity_curves", "deletion"):
        assert "<svg" in figures[name]._repr_svg_()


def test_signed_maps_are_centred_at_zero_and_every_map_has_a_colour_bar(figures):
    grid = figures["grid"]
    shown = [im for ax in grid.axes for im in ax.get_images()]
    limits = {(im.get_cmap().name, im.get_clim()) for im in shown}
    assert (iplots.SIGNED_CMAP, (-1.0, 1.0)) in limits
    assert (iplots.UNSIGNED_CMAP, (0.0, 1.0)) in limits
    bars = [ax for ax in grid.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 2  # one for signed maps, one for unsigned ones


def test_relative_scale_divides_each_map_by_its_largest_absolute_value():
    maps = torch.tensor([[[-4.0, 2.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]])
    scaled = iplots.relative(maps)
    assert torch.equal(scaled[0], torch.tensor([[-1.0, 0.5], [0.0, 0.25]]))
    assert torch.equal(scaled[1], torch.zeros(2, 2))


def test_explain_test_image_describes_what_it_shows(subset):
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    fig, line = iplots.explain_test_image(cnn, subset.test, 12, "grad-cam", target=3)
    label = subset.test.labels[12]
    assert "test image 12" in line and "Grad-CAM explains 'Dress'" in line
    assert f"({data.CLASS_NAMES[int(label)]}), predicted" in line
    assert fig.render("png")[:4] == b"\x89PNG"
    n = len(subset.test)
    with pytest.raises(ConfigError, match=f"index={n}: the test split holds {n:,} images"):
        iplots.explain_test_image(cnn, subset.test, len(subset.test), "saliency")
    with pytest.raises(ConfigError, match="target=10"):
        iplots.explain_test_image(cnn, subset.test, 0, "saliency", target=10)
