"""The design grids: plans, tables, the seed study's verdicts, the figures and `fmnist-edu grid`."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch
from matplotlib.text import Text

from fmnist_edu import comparison, data, design, grid, models, plots, plots_design, seed_study
from fmnist_edu.cli import main
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment, summarize_seeds
from fmnist_edu.store import ResultStore

TINY = design.Plan((0, 1), epochs=1, limit=150)


def test_a_plan_runs_each_design_once_per_seed():
    runs = TINY.experiments(design.SECTIONS)
    assert len(runs) == len(set(runs))
    default = [r for r in runs if dataclasses.replace(r, seed=0) == TINY.runs(Experiment())[0]]
    assert len(default) == 2  # the reference of four sections, run once per seed
    assert {(r.epochs, r.limit) for r in runs} == {(1, 150)}
    assert len(runs) == 2 * 10  # ten distinct designs


def test_the_quick_profile_leaves_out_the_slowest_stack_only():
    quick, full = design.profile_plan("quick"), design.profile_plan("full")
    assert (quick.seeds, quick.epochs, full.seeds, full.epochs) == (
        (0, 1, 2),
        3,
        (0, 1, 2, 3, 4),
        10,
    )
    left_out = {d.name for d in design.section("stacked")} - {
        d.name for d in quick.designs("stacked")
    }
    assert left_out == {"three 3 × 3", "7 × 7"}  # 7 x 7 stays in the kernel section
    assert any(d.name == "7 × 7" for d in quick.designs("kernel"))
    assert full.designs("stacked") == design.section("stacked")
    assert all(quick.designs(s) == design.section(s) for s in design.SECTIONS if s != "stacked")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: design.Plan((), 1), "at least one seed"),
        (lambda: design.Plan((0, 0), 1), "each seed once"),
        (lambda: design.section("width"), "choose one of kernel"),
        (lambda: design.design("kernel", "9 × 9"), "no design"),
    ],
)
def test_bad_plans_and_names_are_explained(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


@pytest.fixture(scope="module")
def padding_rows(subset, tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("store"))
    runs = TINY.experiments(["padding"])
    results = grid.run_grid(runs, subset, store, progress=False)
    correct = design.Correctness(dict(zip(runs, results, strict=True)), subset)
    return design.table("padding", TINY, correct), correct, results


def test_a_table_measures_sizes_and_compares_with_the_reference(padding_rows, subset):
    rows, correct, results = padding_rows
    same, valid = rows
    assert same.versus is None and design.outcome(same.versus) == "reference"
    assert (same.parameters, valid.parameters) == (421_642, 225_034)
    assert (same.dense_inputs, valid.dense_inputs) == (64 * 7 * 7, 64 * 5 * 5)
    assert same.receptive_field == valid.receptive_field == 10
    assert same.macs == 28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10
    assert same.accuracy.values == tuple(r.test.accuracy for r in results[:2])
    expected = comparison.compare(
        correct.of(TINY, valid.design.experiment), correct.of(TINY, same.design.experiment)
    )
    assert valid.versus == expected
    # correctness agrees with the accuracy measured after training
    assert correct.of(TINY, same.design.experiment).float().mean(1).tolist() == list(
        same.accuracy.values
    )


def test_the_table_reads_the_same_as_text_markdown_and_csv(padding_rows, tmp_path):
    rows, _, _ = padding_rows
    text = design.format_table(rows).splitlines()
    assert text[0].split()[0] == "design" and set(text[1]) == {"-"}
    assert text[2].startswith("same") and text[2].endswith("reference")
    assert design.outcome(rows[1].versus) in text[3]
    markdown = design.markdown_table(rows).splitlines()
    assert len(markdown) == 4 and markdown[3].startswith("| valid | 225,034 |")
    design.write_csv(rows, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["design"] for r in table] == ["same", "valid"]
    assert float(table[1]["difference"]) == pytest.approx(rows[1].versus.difference, abs=1e-6)
    assert table[0]["outcome"] == "reference" and table[0]["low"] == ""


def test_a_missing_run_is_named(subset):
    correct = design.Correctness({}, subset)
    with pytest.raises(ConfigError, match="no result for cnn k3 d2 s1 same"):
        design.table("padding", TINY, correct)


class FixedCorrectness:
    """Stands in for design.Correctness with chosen per-image results."""

    def __init__(self, rates: dict[Experiment, float]) -> None:
        self.rates = rates

    def of(self, plan, experiment) -> torch.Tensor:
        n = 1000
        return (torch.arange(n) < self.rates[experiment] * n).repeat(3, 1)


def _rows(section: str, rates: dict[Experiment, float], correct: FixedCorrectness) -> list:
    designs = {d.name: d for d in design.section(section)}
    out = []
    for d in designs.values():
        versus = None
        if d.reference:
            ref = designs[d.reference].experiment
            versus = comparison.compare(correct.of(None, d.experiment), correct.of(None, ref))
        parameters = models.count_parameters(d.experiment.build())
        out.append(design.Row(d, parameters, 0, 0, 0, 0.0,
                              summarize_seeds([rates[d.experiment]] * 3), versus))  # fmt: skip
    return out


@pytest.mark.parametrize(
    "rates, expected",
    [
        # the study's picture: 3x3 best, larger kernels worse, stacks better
        ((0.90, 0.85, 0.80, 0.95, 0.90), ["confirmed", "confirmed", "confirmed"]),
        # larger kernels better (beyond the ratio's reach), stacks worse
        ((0.70, 0.90, 0.95, 0.80, 0.80), ["contradicted", "contradicted", "contradicted"]),
        # all equal: no accuracy claim holds, but fewer parameters win the ratio
        ((0.80, 0.80, 0.80, 0.80, 0.80), ["within noise", "confirmed", "within noise"]),
    ],
)
def test_the_study_findings_follow_the_comparisons(rates, expected):
    k3, k5, k7, two, three = rates
    experiments = {"3 × 3": k3, "5 × 5": k5, "7 × 7": k7, "1 × 1": k3,
                   "two 3 × 3": two, "three 3 × 3": three}  # fmt: skip
    by_exp = {d.experiment: experiments[d.name] for s in ("kernel", "stacked")
              for d in design.section(s)}  # fmt: skip
    correct = FixedCorrectness(by_exp)
    kernel, stacked = _rows("kernel", by_exp, correct), _rows("stacked", by_exp, correct)
    found = seed_study.findings(kernel, stacked, TINY, correct)
    assert [f.status for f in found] == expected
    assert all(len(f.evidence) == 2 for f in found)
    assert "**" + expected[0] + "**" in seed_study.markdown_findings(found)


def test_status_and_counts():
    assert seed_study.status([True, False], [False, False]) == "partly confirmed"
    assert seed_study.status([True, True], [False, True]) == "contradicted"
    assert seed_study.count_is_right(420_000, 421_642)
    assert not seed_study.count_is_right(980_000, 454_922)
    assert seed_study.count_error(1_800_000, 504_842) == pytest.approx(3.565, abs=1e-3)


def test_the_study_table_marks_the_wrong_counts():
    kernel = [design.Row(d, p, 0, 0, 0, 0.0, summarize_seeds([0.8, 0.9]), None)
              for d, p in zip(design.section("kernel"), (405_002, 421_642, 454_922, 504_842),
                              strict=True)]  # fmt: skip

    class Runs:
        def runs(self, plan, experiment):
            assert experiment == seed_study.MLP
            return [type("R", (), {"parameters": 109_386, "test": type("T", (), {"accuracy": a})})
                    for a in (0.86, 0.88)]  # fmt: skip

    table = seed_study.markdown_table(seed_study.beside(kernel, TINY, Runs())).splitlines()
    assert table[2].startswith("| MLP | ~88 % | 87.0 ± 1.4 % | 109,000 | 109,386 | right |")
    assert "| 980,000 | 454,922 | **wrong** (2.2 × the true count) |" in table[4]
    assert "**wrong** (3.6 × the true count)" in table[5] and "right" in table[3]


def test_figures_are_column_wide_readable_and_mark_noise(padding_rows):
    rows, _, _ = padding_rows
    noisy = dataclasses.replace(
        rows[1], versus=dataclasses.replace(rows[1].versus, low=-0.01, high=0.02)
    )
    clear = dataclasses.replace(
        rows[1], versus=dataclasses.replace(rows[1].versus, low=0.01, high=0.02)
    )
    figures = {
        "tradeoff": plots_design.tradeoff(rows),
        "differences": plots_design.differences({"padding": [rows[0], noisy], "again": [clear]}),
    }
    for name, fig in figures.items():
        assert isinstance(fig, plots.BookFigure) and fig._repr_svg_(), name
        assert fig.get_figwidth() == pytest.approx(plots.TEXT_WIDTH)
        fig.draw_without_rendering()
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert min(t.get_fontsize() for t in texts) >= plots.MIN_FONT_PT, name
    ax = figures["differences"].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["again: valid vs same", "padding: valid vs same"]  # top to bottom: reversed
    faces = [line.get_markerfacecolor() for line in ax.lines if line.get_marker() == "o"]
    assert faces == ["black", "white"]  # the clear one (bottom) filled, the noisy one hollow
    assert {t.get_text() for t in figures["tradeoff"].axes[0].texts} == {"same", "valid"}


def test_the_grid_command_prints_the_table_and_writes_csv(
    subset_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    argv = ["grid", "stride", "--epochs", "1", "--seeds", "0", "--limit", "150",
            "--data-dir", str(subset_dir)]  # fmt: skip
    assert main([*argv, "--workers", "2", "--threads", "1", "--csv", str(tmp_path / "s.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "stride: 2 designs x 1 seed, 1 epoch, 150 training images, 2 runs"
    assert out[1] == "2 trained now, 0 from the results store"
    assert out[4].startswith("max-pool") and out[5].startswith("stride-2 conv")
    assert out[-1] == f"wrote {tmp_path / 's.csv'}"
    assert main(argv) == 0  # the second time, everything comes from the store
    again = capsys.readouterr().out.splitlines()
    assert again[1] == "0 trained now, 2 from the results store" and again[2:] == out[2:-1]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--epochs", "0"], "epochs=0: must be between 1"),
        (["--seeds", "1", "1"], "each seed once"),
        (["--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with argument"),
        (["--threads", "0", "--workers", "1"], "threads=0: must be between 1"),
    ],
)
def test_grid_errors_are_one_line(subset_dir, extra, message, capsys):
    assert main(["grid", "padding", "--data-dir", str(subset_dir), *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_border_ink_measures_the_outer_ring():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 0, :] = 100  # ink on the top row only...
    images[:, 10:12, 10:12] = 200  # ...and in the middle
    area, ink = design.border_ink(data.Split(images, torch.tensor([0, 1])), width=1)
    assert area == pytest.approx((28 * 28 - 26 * 26) / (28 * 28))
    assert ink == pytest.approx(28 * 100 / (28 * 100 + 4 * 200))
    with pytest.raises(ConfigError, match="width=14"):
        design.border_ink(data.Split(images, torch.tensor([0, 1])), width=14)


def test_signed_points_never_read_minus_zero():
    assert [design.signed(x) for x in (-0.04, 0.04, -1.25, 2.0)] == ["+0.0", "+0.0", "-1.2", "+2.0"]
