"""The design grids: plans, tables, the seed study's verdicts, the figures and `fmnist-edu grid`."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch
from figure_checks import assert_column_wide_with_readable_text
from matplotlib.backends.backend_agg import FigureCanvasAgg

from fmnist_edu import comparison, design, grid, models, plots_design, seed_study
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
    assert (same.feature_shape, valid.feature_shape) == ((64, 7, 7), (64, 5, 5))
    assert (same.dense_inputs, valid.dense_inputs) == (64 * 7 * 7, 64 * 5 * 5)
    for r in rows:  # what the dense layer reads is what the last block puts out
        assert r.dense_inputs == r.design.experiment.build().classifier.fc1.in_features
        assert r.feature_shape == design.feature_shape(r.design.experiment)
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
    assert text[2].startswith("same") and text[2].endswith("10 × 10")
    assert "reference" in text[2] and design.outcome(rows[1].versus) in text[3]
    markdown = design.markdown_table(rows).splitlines()
    assert len(markdown) == 4 and markdown[3].startswith("| valid | ")
    valid_macs = 26 * 26 * 32 * 9 + 11 * 11 * 64 * 32 * 9 + 1600 * 128 + 128 * 10
    assert markdown[3].endswith(f"| 225,034 | {valid_macs / 1e6:.2f} | 1,600 | 10 × 10 |")
    design.write_csv(rows, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["design"] for r in table] == ["same", "valid"]
    assert float(table[1]["difference"]) == pytest.approx(rows[1].versus.difference, abs=1e-6)
    assert table[0]["outcome"] == "reference" and table[0]["low"] == ""
    assert "seconds_per_epoch" not in table[0]  # wall time on a shared machine: not a cost


def test_the_accuracy_and_verdict_come_first_to_stay_in_view_on_a_phone(padding_rows):
    rows, _, _ = padding_rows
    head, _, same, valid = (line.strip("|").split("|") for line in
                            design.markdown_table(rows).splitlines())  # fmt: skip
    assert [h.strip() for h in head[:4]] == ["design", "accuracy %", "minus reference",
                                             "verdict"]  # fmt: skip
    a, c = rows[1].accuracy, rows[1].versus
    assert valid[1].strip() == f"{100 * a.mean:.1f} ± {100 * a.std:.1f}"
    assert valid[2].strip().startswith(design.signed(100 * c.difference) + " (")
    assert valid[3].strip() == design.outcome(c)
    assert (same[2].strip(), same[3].strip()) == ("—", "reference")
    assert max(len(w) for w in design.outcome(c).split()) <= len("reference")


def test_mean_curves_average_the_seeds_per_epoch(padding_rows):
    _, _, results = padding_rows
    two = results[:2]  # "same", seeds 0 and 1, one epoch each
    loss = design.mean_curve(two, "loss")
    assert loss == pytest.approx(
        [(two[0].history.epochs[0].loss + two[1].history.epochs[0].loss) / 2]
    )
    longer = dataclasses.replace(two[1], history=type(two[1].history)(two[1].history.epochs * 2))
    with pytest.raises(ConfigError, match="same number of epochs"):
        design.mean_curve([two[0], longer], "loss")


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
        out.append(design.Row(d, parameters, 0, 0, (0, 0, 0),
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
    listed = seed_study.markdown_findings(found).splitlines()
    assert [line[:3] for line in listed] == ["1. ", "2. ", "3. "]  # a list: it wraps on a phone
    assert all(f"**{e}**" in line for e, line in zip(expected, listed, strict=True))
    assert all(f.evidence[1] in line for f, line in zip(found, listed, strict=True))


def test_a_larger_test_set_measures_accuracy_more_precisely():
    assert seed_study.sampling_error(0.9, 10_000) == pytest.approx(0.003)
    assert seed_study.sampling_error(0.9, 1_770) == pytest.approx((0.09 / 1770) ** 0.5)
    assert seed_study.sampling_error(1.0, 100) == 0.0
    with pytest.raises(ValueError, match="images=0"):
        seed_study.sampling_error(0.5, 0)


def test_status_and_counts():
    assert seed_study.status([True, False], [False, False]) == "partly confirmed"
    assert seed_study.status([True, True], [False, True]) == "contradicted"
    assert seed_study.count_is_right(420_000, 421_642)
    assert not seed_study.count_is_right(980_000, 454_922)
    assert seed_study.count_error(1_800_000, 504_842) == pytest.approx(3.565, abs=1e-3)


def test_the_study_table_marks_the_wrong_counts():
    kernel = [design.Row(d, p, 0, 0, (64, 7, 7), summarize_seeds([0.8, 0.9]), None)
              for d, p in zip(design.section("kernel"), (405_002, 421_642, 454_922, 504_842),
                              strict=True)]  # fmt: skip

    class Runs:
        def runs(self, plan, experiment):
            assert experiment == seed_study.MLP
            return [type("R", (), {"parameters": 109_386, "test": type("T", (), {"accuracy": a})})
                    for a in (0.86, 0.88)]  # fmt: skip

    pairs = seed_study.beside(kernel, TINY, Runs())
    params = seed_study.parameter_table(pairs).splitlines()
    assert params[0] == "| model | study | true count | study's count |"
    assert params[2] == "| MLP | 109,000 | 109,386 | right |"
    assert params[4] == "| 5 × 5 | 980,000 | 454,922 | **wrong**: 2.2 × |"
    assert params[5].endswith("| **wrong**: 3.6 × |") and params[3].endswith("| right |")
    accuracy = seed_study.accuracy_table(pairs).splitlines()
    assert accuracy[2] == "| MLP | ~88 | 87.0 ± 1.4 |"
    assert accuracy[3] == "| 3 × 3 | ~90–91 | 85.0 ± 7.1 |"
    # Short enough for a phone: four columns at most, the verdict among them.
    assert all(line.count("|") <= 5 for line in params + accuracy)


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
    assert_column_wide_with_readable_text(figures)
    for name, fig in figures.items():
        assert fig._repr_svg_(), name
    ax = figures["differences"].axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["again: valid vs same", "padding: valid vs same"]  # bottom to top
    faces = [line.get_markerfacecolor() for line in ax.lines if line.get_marker() == "o"]
    assert faces == ["black", "white"]  # the clear one (bottom) filled, the noisy one hollow
    params_ax, macs_ax = figures["tradeoff"].axes
    assert {t.get_text() for t in params_ax.texts} == {"same", "valid"}
    # computed costs, not wall time: the points sit at the rows' MACs (millions)
    xs = sorted(line.get_xdata()[0] for line in macs_ax.lines if line.get_marker() == "o")
    assert xs == pytest.approx(sorted(r.macs / 1e6 for r in rows))
    assert macs_ax.get_xlabel() == "MACs per image (millions)"
    canvas = FigureCanvasAgg(figures["tradeoff"])
    canvas.draw()
    page = figures["tradeoff"].bbox
    for ax in (params_ax, macs_ax):  # every design's label inside the figure, none cut off
        for t in ax.texts:
            box = t.get_window_extent(canvas.get_renderer())
            assert page.x0 <= box.x0 and box.x1 <= page.x1, t.get_text()


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


def test_sides_follow_the_maps_through_the_blocks():
    assert design.sides(Experiment()) == (28, 28, 14, 14, 7)  # same: only pooling shrinks
    # valid: a 3 x 3 convolution computes 28 - 3 + 1 = 26 positions; pooling 13 gives... 11 -> 5
    assert design.sides(Experiment(padding="valid")) == (28, 26, 13, 11, 5)
    assert design.sides(Experiment(depth=3))[-2:] == (7, 3)  # pooling 7 rounds down


def test_valid_padding_loses_output_positions_not_input_pixels():
    reads = design.valid_reads(28, 3)
    assert reads.shape == (28, 28) and reads.min() == 1  # every pixel read at least once
    assert reads[0, 0] == reads[27, 27] == 1 and reads[0, 14] == 3 and reads[14, 14] == 9
    assert reads.sum() == 26 * 26 * 9  # 26 x 26 positions, each reads 9 pixels
    assert design.valid_reads(5, 5).tolist() == [[1] * 5] * 5
    with pytest.raises(ConfigError, match="kernel=29"):
        design.valid_reads(28, 29)


def test_the_dense_input_halves_then_falls_faster_with_depth():
    """The depth section's claim: 1 -> 2 blocks halves the dense layer's input (side
    halved, channels doubled), 2 -> 3 cuts it by more, since pooling 7 gives 3."""
    shapes = [design.feature_shape(d.experiment) for d in design.section("depth")]
    assert shapes == [(32, 14, 14), (64, 7, 7), (128, 3, 3)]
    dense = [d.experiment.build().classifier.fc1.in_features for d in design.section("depth")]
    assert dense == [6272, 3136, 1152] == [c * h * w for c, h, w in shapes]
    assert dense[0] == 2 * dense[1] and dense[2] < dense[1] / 2


def test_the_chapter_types_no_confidence_and_names_columns():
    """Every number glued: the interval's confidence comes from the comparison; and a
    table's columns are named, never counted (a phone shows them in another place)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "book" / "design_choices.md").read_text("utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)  # code cells may compute anything...
    prose += "\n".join(re.findall(r"caption: (.*)", text))  # ...but their captions are prose
    assert not re.search(r"\b95\s?%", prose)
    assert not re.search(r"\b(first|second|third|fourth|fifth|sixth|last) column", prose)
    assert "per epoch" not in prose  # no wall-time comparison on a shared machine


def test_signed_points_never_read_minus_zero():
    assert [design.signed(x) for x in (-0.04, 0.04, -1.25, 2.0)] == ["+0.0", "+0.0", "-1.2", "+2.0"]


def test_only_the_designs_whose_curves_are_drawn_validate_after_every_epoch():
    reference = Experiment()  # other chapters draw its curves; it is one stored run
    for name, designs in design.SECTIONS.items():
        for d in designs:
            curves = name == "depth" or d.experiment == reference
            assert d.experiment.validate == ("epoch" if curves else "none"), (name, d.name)
    assert design.design("kernel", "3 × 3").experiment == reference
