"""Plots, tables, provenance and the site (offline math, accessible markup) of the book."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess

import matplotlib
import pytest
import torch
from conftest import ROOT, book_extension, write_idx_folder
from figure_checks import (
    assert_column_wide_with_readable_text,
    assert_legend_off_the_data,
    rendered_width_inches,
)
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.text import Text
from test_book_cache import _build

from fmnist_edu import (
    models,
    plots,
    plots_architectures,
    plots_dataset,
    provenance,
    settings,
    summary,
)
from fmnist_edu.training import EpochStats, History


def _history(values):
    return History([EpochStats(i + 1, 1 - v, v, v, 0.1) for i, v in enumerate(values)])


@pytest.fixture(scope="module")
def figures(subset) -> dict:
    """Every figure of the book, on the real subset or small made-up results."""
    accuracies = [0.5, 0.9, 0.7, 0.8, 0.6, 0.9, 0.4, 0.9, 0.95, 0.9]
    return {
        "example_grid": plots_dataset.example_grid(subset.train, per_class=8),
        "class_balance": plots_dataset.class_balance(subset.train, subset.test),
        "image_row": plots.image_row(torch.rand(10, 28, 28), plots.SHORT_NAMES),
        "pixel_histogram": plots_dataset.pixel_histogram(subset.test),
        "heatmap": plots.heatmap(torch.rand(10, 10).tolist(), "{:.2f}", "similarity"),
        "confusion_matrix": plots_architectures.confusion_matrix(_confusion()),
        "learning_curves": plots_architectures.learning_curves(
            {"MLP": [_history([0.5, 0.6]), _history([0.4, 0.7])], "CNN": [_history([0.6, 0.8])]}
        ),
        "seed_scores": plots.seed_scores({"MLP": [0.81, 0.83, 0.83], "CNN": [0.88, 0.88, 0.87]}),
        "per_class_bars": plots_architectures.per_class_bars(
            {"MLP": accuracies, "CNN": [1.0] * 10}
        ),
    }


def _confusion() -> list[list[int]]:
    """Counts summed over 5 seeds: a large diagonal and a few mix-ups."""
    m = torch.full((10, 10), 5, dtype=torch.long)
    m.fill_diagonal_(850)
    m[6, 0], m[0, 6] = 300, 120
    return m.tolist()


def _texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def test_every_figure_is_column_wide_with_readable_text(figures):
    # Measured on the figure as rendered (cropped), scaled to a 390 px phone's column.
    assert_column_wide_with_readable_text(figures)
    assert plots.phone_text_px(plots.MIN_FONT_PT) >= plots.MIN_PHONE_TEXT_PX


def test_the_phone_check_catches_small_text_and_text_that_widens_the_figure():
    small = plots._figure(2.0)
    small.subplots().set_xlabel("tiny", fontsize=8)
    with pytest.raises(AssertionError, match="CSS px on a phone"):
        assert_column_wide_with_readable_text({"small": small})
    spilled = plots._figure(2.0)
    ax = spilled.subplots()
    ax.text(-0.6, 0.5, "a label placed far left of the axes", transform=ax.transAxes)
    assert rendered_width_inches(spilled) > plots.TEXT_WIDTH + 0.1
    with pytest.raises(AssertionError):
        assert_column_wide_with_readable_text({"spilled": spilled})


def test_images_are_png_at_high_resolution_and_charts_are_svg(figures):
    for name, fig in figures.items():
        png = fig._repr_png_()
        assert png.startswith(b"\x89PNG"), name
        svg = fig._repr_svg_()
        if name in ("example_grid", "image_row"):
            assert svg is None, name  # mostly pixels: PNG only
            width = int.from_bytes(png[16:20], "big")  # IHDR width in pixels
            assert width / plots.PNG_DPI == pytest.approx(plots.TEXT_WIDTH, rel=0.1), name
        else:
            assert svg is not None and "<svg" in svg, name
            width_pt = float(re.search(r'<svg[^>]* width="([0-9.]+)pt"', svg).group(1))
            # Natural size: the figure and its margins, give or take a constrained-layout
            # rounding; 6.8 in (653 CSS px) is shown unscaled in a 688 px column (at 1280).
            assert width_pt <= (plots.TEXT_WIDTH + 2 * plots.PAD_INCHES + 0.2) * 72, name


def test_style_is_applied_to_every_figure_even_when_the_global_style_differs(subset):
    with matplotlib.rc_context({"font.size": 4, "xtick.labelsize": 4, "legend.fontsize": 4}):
        fig = plots_dataset.class_balance(subset.train, subset.test)
        fig.draw_without_rendering()
        assert min(t.get_fontsize() for t in _texts(fig)) >= plots.MIN_FONT_PT


@pytest.mark.parametrize("name", ["class_balance", "per_class_bars", "learning_curves"])
def test_legends_sit_off_the_data(figures, name):
    assert_legend_off_the_data(figures[name], name, artists=True)


def test_seed_dots_at_the_same_score_do_not_hide_each_other():
    fig = plots.seed_scores({"MLP": [0.8, 0.8, 0.8, 0.8], "CNN": [0.9]})
    dots = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    mlp = [x for x, _ in dots[0].get_offsets()]
    assert len(set(mlp)) == 4  # four distinct positions for four equal scores
    assert max(mlp) - min(mlp) < 0.5  # still clearly the MLP's column
    again = plots.seed_scores({"MLP": [0.8, 0.8, 0.8, 0.8], "CNN": [0.9]})
    dots = [c for c in again.axes[0].collections if isinstance(c, PathCollection)]
    assert [x for x, _ in dots[0].get_offsets()] == mlp  # deterministic
    assert plots.jitter(1) == [0.0] and plots.jitter(0) == []


def test_confusion_matrix_shows_row_percentages_scaled_by_the_mix_ups():
    counts = _confusion()
    percent = plots_architectures.row_percentages(counts)
    assert percent.sum(dim=1).tolist() == pytest.approx([100.0] * 10)
    # Summing over seeds does not change the shares: one seed's fifth gives the same rows.
    assert plots_architectures.row_percentages(
        (torch.tensor(counts) // 5).tolist()
    ) == pytest.approx(percent)
    assert (
        plots_architectures.row_percentages([[0] * 10] * 10).sum() == 0
    )  # no images, no division by zero
    fig = plots_architectures.confusion_matrix(counts)
    ax, bar = fig.axes
    assert (
        bar.get_xlabel() == plots_architectures.CONFUSION_LABEL
    )  # a horizontal bar above the matrix
    assert bar.get_position().y0 > ax.get_position().y1
    assert (
        "all seeds" in plots_architectures.CONFUSION_LABEL
        and "%" in plots_architectures.CONFUSION_LABEL
    )
    (image,) = ax.images
    shown = image.get_array()
    assert shown.mask.diagonal().all() and not shown.mask.sum() > 10  # only the diagonal left out
    off_diagonal = percent.masked_select(~torch.eye(10, dtype=torch.bool))
    assert image.norm.vmin == 0
    assert image.norm.vmax == pytest.approx(float(off_diagonal.max()))  # largest mix-up
    written = {t.get_text() for t in ax.texts}
    assert f"{percent[6, 0]:.1f}" in written and f"{percent[3, 3]:.1f}" in written
    assert sum(p.get_hatch() is not None for p in ax.patches) == 10  # the hatched diagonal
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")


def test_confusion_matrices_can_share_one_colour_scale():
    a, b = _confusion(), (torch.tensor(_confusion()) + torch.eye(10, dtype=torch.long)).tolist()
    b[3][4] = 400  # a larger mix-up in the second matrix
    top = plots_architectures.largest_mix_up(a, b)
    assert top == pytest.approx(float(plots_architectures.row_percentages(b)[3, 4]))
    for counts in (a, b):
        (image,) = plots_architectures.confusion_matrix(counts, vmax=top).axes[0].images
        assert (image.norm.vmin, image.norm.vmax) == (0, pytest.approx(top))


def test_heatmap_colours_the_whole_matrix_unless_asked():
    fig = plots.heatmap([[float(i == j) for j in range(10)] for i in range(10)], "{:.2f}", "x")
    assert not fig.axes[0].images[0].get_array().mask.any()
    fig = plots.heatmap(torch.rand(10, 10).tolist(), neutral_diagonal=True)
    assert fig.axes[0].images[0].get_array().mask.diagonal().all()


def test_images_are_ink_on_paper_on_one_scale(subset):
    assert "0" in plots.IMAGE_CONVENTION and "white" in plots.IMAGE_CONVENTION
    grid = plots_dataset.example_grid(subset.train, per_class=2)
    for ax in grid.axes:
        (image,) = ax.images
        assert image.get_cmap().name == plots.IMAGE_CMAP == "gray_r"
        assert image.get_clim() == (0, 255)
    means = torch.rand(10, 28, 28) * 0.5
    row = plots.image_row(means, plots.SHORT_NAMES)
    assert {ax.images[0].get_clim() for ax in row.axes if ax.images} == {(0, 1.0)}
    assert len(row.axes) == 11  # ten images and one shared colour bar
    assert len(plots.image_row(means[:3] * 255, plots.SHORT_NAMES[:3], colorbar=None).axes) == 3


def test_markdown_table_matches_the_summary():
    rows = summary.summarize(models.CNN())
    lines = summary.markdown_table(rows).splitlines()
    assert lines[0] == "| layer | params | MACs |"
    assert len(lines) == 2 + len(rows) + 1
    assert "| `conv1` | 320 | 225,792 |" in lines
    assert lines[-1] == "| **total** | **421,642** | **4,241,152** |"
    seen = summary.markdown_table(rows, ("output", "RF"), kinds=("Conv2d", "MaxPool2d"))
    assert seen.splitlines()[2:] == [
        "| `conv1` | 32×28×28 | 3 |",
        "| `pool1` | 32×14×14 | 4 |",
        "| `conv2` | 64×14×14 | 8 |",
        "| `pool2` | 64×7×7 | 10 |",
    ]  # no total row for a selection of layers
    with pytest.raises(ValueError, match="choose from"):
        summary.markdown_table(rows, ("FLOPs",))


def _phone_px(table: str) -> float:
    """Width of a Markdown table on a 390 px phone, estimated from its widest cells.

    Calibrated in the built book (Chromium, 390 px): a 5-column layer table whose widest
    cells held 30 and 33 characters measured 355 and 387 CSS px: 10.7 px per character and
    7 px of padding per column.
    """
    rows = [[c.strip(" *`") for c in line.strip("|").split("|")] for line in table.splitlines()]
    rows = [rows[0], *rows[2:]]
    widest = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return 10.7 * sum(widest) + 7 * len(widest)


@pytest.mark.parametrize("model", [models.MLP(), models.CNN(), models.MLP(hidden=(4096, 4096))])
def test_layer_tables_fit_a_phone(model):
    # The table's container is 343 CSS px on a 390 px phone: the parameter and MAC columns
    # must not be pushed off screen (the old five-column table measured 387 px).
    rows = summary.summarize(model)
    assert _phone_px(summary.markdown_table(rows)) <= 343
    assert _phone_px(summary.markdown_table(rows, ("output", "RF"))) <= 343
    old = "| layer | output | params | MACs | RF |\n|---|---:|---:|---:|---:|\n"
    old += "| `flatten` | 32×28×28 | 421,642 | 4,241,152 | 28 |"
    assert _phone_px(old) > 343


def test_layer_tables_keep_full_names_when_the_short_ones_repeat():
    nn = torch.nn
    model = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(784, 4)), nn.Linear(4, 2))
    names = summary._short_names(summary.summarize(model))
    assert names == ["0.0", "0.1", "1"]  # "0", "1", "1" would name two layers alike


def test_provenance_box_states_what_produced_the_numbers(subset):
    run = provenance.ChapterRun(subset, profile=settings.profile("quick"))
    result = type("R", (), {"from_store": True})
    run.count([result, dataclasses.make_dataclass("T", [("from_store", bool)])(False)])
    facts = run.facts()
    assert facts["images read"].startswith("3,615 training, 1,770 test")
    assert facts["profile"].startswith("quick (3 epochs")
    assert facts["models"] == "1 trained now, 1 from the results store"
    assert "torch " in facts["versions"]
    box = run.box()
    assert box.startswith(":::{admonition}") and box.rstrip().endswith(":::")


def test_build_fingerprint_follows_code_data_and_profile(monkeypatch, tmp_path, subset_dir):
    monkeypatch.setenv(settings.DATA_ENV, str(subset_dir))
    monkeypatch.setenv(settings.PROFILE_ENV, "full")
    base = provenance.build_fingerprint()
    assert base.startswith(provenance.code_fingerprint())
    monkeypatch.setenv(settings.PROFILE_ENV, "quick")
    assert provenance.build_fingerprint() != base
    monkeypatch.setenv(settings.PROFILE_ENV, "full")
    monkeypatch.setenv(settings.DATA_ENV, str(write_idx_folder(tmp_path / "other")))
    assert provenance.build_fingerprint() != base
    monkeypatch.setenv(settings.DATA_ENV, str(tmp_path / "empty"))
    assert "-no-data-" in provenance.build_fingerprint()
    monkeypatch.setattr(provenance, "code_fingerprint", lambda: "changed")
    monkeypatch.setenv(settings.DATA_ENV, str(subset_dir))
    assert provenance.build_fingerprint() != base


@pytest.mark.parametrize("name", ["quick", "full"])
def test_profiles_have_several_seeds(name):
    assert len(settings.profile(name).seeds) >= 3


# The site: offline math, accessible markup, wide tables (book/_ext/fmnist_site.py).

SITE_PAGE = r"""# Page

Inline math $k$ and a display:

$$
\sum_i x_i
$$

As {cite}`lecun1998gradient` showed.

| a | b |
|---|---|
| 1 | 2 |

```{bibliography}
```
"""


def test_citation_lists_are_lists_of_list_items():
    site = book_extension("fmnist_site")
    body = (
        '<div role="list" class="citation-list">\n'
        '<div class="citation" id="id6" role="doc-biblioentry">\n'
        '<span class="label">a</span></div>\n</div>'
    )
    fixed = site.fix_citation_roles(body)
    assert 'role="doc-biblioentry"' not in fixed
    assert '<div class="citation" id="id6" role="listitem">' in fixed
    assert site.fix_citation_roles("<p>no citations</p>") == "<p>no citations</p>"


def test_site_ships_its_math_renderer_and_accessible_references(tmp_path):
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
    (tmp_path / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: 'off'\n"
        "parse:\n  myst_enable_extensions: [dollarmath]\n"
        "bibtex_bibfiles: [references.bib]\n"
        f"sphinx:\n  local_extensions:\n    fmnist_site: {ROOT / 'book' / '_ext'}\n"
    )
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-article\nroot: page\n")
    (tmp_path / "book" / "page.md").write_text(SITE_PAGE)
    _build(tmp_path, dict(os.environ))
    html_dir = tmp_path / "_build" / "html"
    page = (html_dir / "page.html").read_text()
    # Math: rendered by the copy of MathJax in the site, no CDN.
    assert "cdn.jsdelivr" not in page and "mathjax@" not in page
    assert '<script defer="defer" src="_static/mathjax/tex-chtml.js' in page
    mathjax = html_dir / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").stat().st_size > 500_000
    assert list((mathjax / "output/chtml/fonts/woff-v2").glob("MathJax_Main-Regular.woff"))
    assert (mathjax / "input/tex/extensions/boldsymbol.js").is_file()
    size = sum(f.stat().st_size for f in mathjax.rglob("*") if f.is_file())
    assert size < 5_000_000, f"MathJax adds {size:,} bytes"
    # References: a list whose entries are list items (axe-core: aria-required-children).
    assert 'role="list"' in page and 'role="doc-biblioentry"' not in page
    assert page.count('role="listitem"') == 1


def test_no_javascript_in_book_static():
    # Jupyter Book links every .js file under book/_static into every page.
    static = ROOT / "book" / "_static"
    assert (static / "fmnist.css").is_file()
    assert not list(static.rglob("*.js"))


def test_make_test_builds_the_quick_book_apart_from_the_readers_book():
    def commands(target):
        dry = subprocess.run(["make", "-n", "-C", str(ROOT), target],
                             capture_output=True, text=True, check=True)  # fmt: skip
        return [ln for ln in dry.stdout.splitlines() if "jupyter-book build" in ln]

    (quick,) = commands("quick-book")
    assert "FMNIST_EDU_PROFILE=quick" in quick and "--path-output _build/quick" in quick
    (book,) = commands("book")
    assert "--path-output" not in book and "quick" not in book  # -> _build/html
    assert "$(MAKE) quick-book" in (ROOT / "Makefile").read_text().split("\ntest:")[1]


def test_binder_takes_cpu_torch_and_otherwise_the_project_pins():
    def pins(path):
        lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
        return [ln for ln in lines if ln]

    root, binder = pins(ROOT / "requirements.txt"), pins(ROOT / "binder" / "requirements.txt")
    assert "-r ../requirements.txt" in binder  # every other pin is the root file's own
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder
    for name in ("torch", "torchvision"):
        (version,) = [ln.split("==")[1] for ln in root if ln.startswith(f"{name}==")]
        assert f"{name}=={version}+cpu" in binder, name
    assert len(binder) == 4, binder  # nothing else drifts in beside the root list
