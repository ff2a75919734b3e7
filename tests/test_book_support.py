"""Plots, tables and provenance used by the chapters."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import write_idx_folder
from matplotlib.figure import Figure

from fmnist_edu import models, plots, provenance, settings, summary
from fmnist_edu.training import EpochStats, History


def _history(values):
    return History([EpochStats(i + 1, 1 - v, v, v, 0.1) for i, v in enumerate(values)])


def test_plots_return_figures(subset):
    split = subset.test
    assert len(plots.example_grid(split, per_class=3).axes) == 30
    assert len(plots.class_balance(subset.train, split).axes) == 1
    assert isinstance(plots.pixel_histogram(split), Figure)
    assert len(plots.confusion_matrix([[1] * 10] * 10).axes) == 2  # matrix and colour bar
    curves = plots.learning_curves({"a": [_history([0.5, 0.6]), _history([0.4, 0.7])]})
    assert [len(ax.lines) for ax in curves.axes] == [1, 1]
    assert len(plots.seed_scores({"a": [0.1, 0.2], "b": [0.3]}).axes[0].collections) >= 2
    bars = plots.per_class_bars({"a": [0.5] * 10, "b": [0.6] * 10})
    assert len(bars.axes[0].patches) == 20


def test_markdown_table_matches_the_summary():
    rows = summary.summarize(models.CNN())
    table = summary.markdown_table(rows)
    lines = table.splitlines()
    assert len(lines) == 2 + len(rows) + 1
    assert "| `features.conv1` | Conv2d | 32×28×28 | 320 | 225,792 | 3×3 |" in lines
    assert lines[-1].startswith("| **total** | | | **421,642** |")


def test_provenance_box_states_what_produced_the_numbers(subset):
    run = provenance.ChapterRun(subset, profile=settings.profile("quick"))
    result = type("R", (), {"from_store": True})
    run.count([result, dataclasses.make_dataclass("T", [("from_store", bool)])(False)])
    facts = run.facts()
    assert facts["images read"] == "3,615 training, 1,770 test"
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
