"""The Interpretability chapter's figures follow the book's one style."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import data, interpret, models, plots
from fmnist_edu import plots_interpret as iplots
from fmnist_edu.errors import ConfigError
from tests.figure_checks import assert_column_wide_with_readable_text


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
        "sanity_grid": iplots.sanity_grid(images[0], states, [*steps, "shuffled\nlabels"]),
        "sanity_curves": iplots.sanity_curves(steps, cascade, shuffled, 0.5),
        "deletion": iplots.deletion_curves(interpret.FRACTIONS, curves, garment=curves),
        "explanation": iplots.explanation(images[0], maps["deeplift"][0], True, "DeepLift"),
        "class_maps": plots.image_row(  # the chapter's per-class figure, from plots.py
            torch.rand(10, 28, 28, generator=generator), list(plots.SHORT_NAMES),
            cmap=iplots.UNSIGNED_CMAP, vmax=1.0, colorbar="mean |saliency|"),
    }  # fmt: skip


def test_figures_are_column_wide_with_text_readable_on_a_phone(figures):
    assert_column_wide_with_readable_text(figures)


def test_every_line_of_a_chart_can_be_told_apart_where_lines_coincide():
    steps = ["trained", "+ fc2", "+ fc1"]
    same = torch.full((3, 3, 4), 0.8)  # every method on exactly the same values
    cascade = {m: same for m in interpret.METHODS}
    fig = iplots.sanity_curves(steps, cascade, {m: same[:, 0] for m in interpret.METHODS}, 0.5)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in
             iplots.ABBREVIATIONS.values()]  # fmt: skip
    assert len(lines) == len(interpret.METHODS)
    assert len({line.get_marker() for line in lines}) == len(lines)  # a marker of its own
    assert len({tuple(line.get_xdata()) for line in lines}) == len(lines)  # shifted apart
    for line in lines:  # by a fraction of a step: each point stays at its step
        assert max(abs(line.get_xdata() - range(3))) < 0.5
    flat = torch.full((3, 2, len(interpret.FRACTIONS)), 0.5)
    deletion = iplots.deletion_curves(interpret.FRACTIONS, {m: flat for m in interpret.METHODS})
    markers = [line.get_marker() for line in deletion.axes[0].get_lines()]
    assert len(set(markers)) == len(markers)


def test_maps_are_png_and_charts_svg(figures):
    for name in ("grid", "rows", "sanity_grid", "explanation", "class_maps"):
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
