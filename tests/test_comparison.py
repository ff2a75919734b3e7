"""Comparing two models over seeds and test images, with a bootstrap interval."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import comparison
from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError


def _correct(accuracies, n=2000, seed=0):
    """One row per seed: a random set of images right, the given share of them."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.rand(n, generator=g) < a for a in accuracies])


def test_a_clear_gap_is_called_and_stated():
    c = comparison.compare(_correct([0.90, 0.91, 0.92]), _correct([0.80, 0.81, 0.79], seed=1))
    assert c.a_better and not c.b_better and not c.within_noise
    assert c.low < c.difference < c.high and c.low > 0
    text = comparison.verdict(c, "CNN", "MLP")
    assert text.startswith(f"the CNN beats the MLP by {100 * c.difference:.1f} percentage")
    reverse = comparison.compare(_correct([0.80, 0.81]), _correct([0.90, 0.91], seed=1))
    assert reverse.b_better and "the MLP beats the CNN" in comparison.verdict(reverse, "CNN", "MLP")


def test_identical_models_are_within_noise():
    rows = _correct([0.85, 0.85, 0.85])
    c = comparison.compare(rows, rows)
    assert c.difference == 0 and c.within_noise
    assert "within noise" in comparison.verdict(c, "CNN", "MLP")


def test_test_set_noise_counts_even_with_perfectly_stable_seeds():
    # Every seed of a gets the same 52 % right, every seed of b the same 50 %: no seed noise
    # at all, but 2 points on 200 images is well inside the test set's sampling error.
    a = torch.zeros(3, 200, dtype=torch.bool)
    b = torch.zeros(3, 200, dtype=torch.bool)
    a[:, :104], b[:, 96:196] = True, True
    c = comparison.compare(a, b)
    assert c.a.std == 0 and c.b.std == 0
    assert c.within_noise
    assert c.test_se == pytest.approx((0.51 * 0.49 / 200) ** 0.5)
    # The same gap on 20,000 images with the same overlap pattern is beyond noise.
    big = comparison.compare(a.repeat(1, 100), b.repeat(1, 100))
    assert big.a_better


def test_pairing_makes_shared_mistakes_cancel():
    # Both models get the same hard images wrong; a is right on 40 more images than b.
    n = 2000
    a = torch.ones(2, n, dtype=torch.bool)
    a[:, :600] = False
    b = a.clone()
    b[:, 600:640] = False
    c = comparison.compare(a, b)
    assert c.difference == pytest.approx(0.02)
    assert c.a_better, "a paired comparison sees that a is never worse than b"


def test_the_interval_is_reproducible_and_checks_its_input():
    a, b = _correct([0.8, 0.82]), _correct([0.79, 0.8], seed=3)
    assert comparison.compare(a, b) == comparison.compare(a, b)
    with pytest.raises(ConfigError, match="same N"):
        comparison.compare(a, b[:, :10])
    with pytest.raises(ConfigError, match="confidence"):
        comparison.compare(a, b, confidence=1.5)


def test_correctness_marks_right_and_wrong_images():
    class Constant(torch.nn.Module):
        def __init__(self, label):
            super().__init__()
            self.label = label
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return (
                torch.nn.functional.one_hot(torch.full((len(x),), self.label), 10).float()
                + 0 * self.dummy
            )

    split = Split(torch.zeros(4, 28, 28, dtype=torch.uint8), torch.tensor([3, 3, 1, 0]))
    rows = comparison.correctness([Constant(3), Constant(1)], split)
    assert rows.tolist() == [[True, True, False, False], [False, False, True, False]]


def test_per_class_finds_where_each_model_loses():
    labels = torch.arange(3000) % 3
    a = torch.ones(3, 3000, dtype=torch.bool)
    b = torch.ones(3, 3000, dtype=torch.bool)
    a[:, (labels == 0).nonzero().flatten()[:300]] = False  # a misses 30 % of class 0
    b[:, (labels == 2).nonzero().flatten()[:300]] = False  # b misses 30 % of class 2
    by_class = comparison.per_class(a, b, labels)
    assert [c.test_images for c in by_class] == [1000, 1000, 1000]
    assert by_class[0].b_better and by_class[2].a_better
    assert by_class[1].within_noise and by_class[1].difference == 0


def test_the_verdict_never_prints_minus_zero():
    c = comparison.Comparison(
        a=None, b=None, difference=0.0, low=-0.0004, high=0.02, test_images=100,
        test_se=0.01, confidence=0.95,
    )  # fmt: skip
    text = comparison.verdict(c, "A", "B")
    assert "+0.0 to +2.0 points" in text and "-0.0" not in text


def test_a_difference_is_printed_with_its_sign_inside_its_interval():
    c = comparison.Comparison(
        a=None, b=None, difference=-0.0498, low=-0.1363, high=0.0302, test_images=100,
        test_se=0.01, confidence=0.95,
    )  # fmt: skip
    text = comparison.difference_text(c, digits=4)
    assert text == "-0.0498 (95 % interval -0.1363 to +0.0302)"
    points = comparison.difference_text(c, digits=1, scale=100, unit=" points")
    assert points == "-5.0 points (95 % interval -13.6 points to +3.0 points)"
    assert comparison.signed(-0.00004, 3) == "+0.000"  # never "-0.000"
    assert (
        comparison.confidence_text(
            comparison.Comparison(None, None, 0.0, 0.0, 0.0, 1, 0.0, confidence=0.9)
        )
        == "90 %"
    )


def _fixed(difference: float, low: float, high: float, confidence: float = 0.95):
    """A comparison with given numbers (the table only formats them)."""
    seeds = comparison.summarize_seeds([0.8, 0.8])
    return comparison.Comparison(seeds, seeds, difference, low, high, 1770, 0.01, confidence)


def test_comparison_table_gives_one_row_per_contrast_with_its_verdict():
    rows = [
        comparison.Contrast("centred", _fixed(0.012, -0.003, 0.026), "CNN", "MLP"),
        comparison.Contrast("moved", _fixed(0.101, 0.08, 0.12), "CNN", "MLP"),
        comparison.Contrast("loss", _fixed(-0.05, -0.07, -0.031), "MLP", "CNN", "loses more"),
    ]
    table = comparison.table(rows, first_header="images")
    lines = table.splitlines()
    assert lines[0] == "| images | points | 95% interval | verdict |"
    assert lines[2] == "| centred | +1.2 | −0.3 to +2.6 | within noise |"
    assert lines[3] == "| moved | +10.1 | +8.0 to +12.0 | CNN ahead |"
    assert lines[4] == "| loss | −5.0 | −7.0 to −3.1 | CNN loses more |"
    assert len(lines) == 2 + len(rows)
    assert "90% interval" in comparison.table(
        [comparison.Contrast("x", _fixed(0.0, -0.01, 0.01, 0.9), "a", "b")]
    )
    with pytest.raises(ConfigError, match="mix"):
        comparison.table([rows[0], comparison.Contrast(
            "x", _fixed(0.0, -0.01, 0.01, 0.9), "a", "b")])  # fmt: skip
    with pytest.raises(ConfigError):
        comparison.table([])


def test_comparison_table_heads_its_points_and_names_the_winner_only_beyond_noise():
    good = torch.ones(3, 400, dtype=torch.bool)
    half = torch.arange(400).expand(3, 400) % 2 == 0
    rows = [
        comparison.Contrast(name, c, "CNN", "MLP", "better")
        for name, c in (
            ("all", comparison.compare(good, half)),
            ("tie", comparison.compare(half, half)),
            ("back", comparison.compare(half, good)),
        )
    ]
    lines = comparison.table(rows, "class", points_header="CNN − MLP, points").splitlines()
    assert lines[0] == "| class | CNN − MLP, points | 95% interval | verdict |"
    assert lines[2].startswith("| all | +50.0 | ") and lines[2].endswith("| CNN better |")
    assert lines[3].startswith("| tie | +0.0 | ") and lines[3].endswith("| within noise |")
    assert lines[4].startswith("| back | −50.0 | ") and lines[4].endswith("| MLP better |")
