"""fmnist_edu.beyond.column_order: order studies, their test, and how p-values are written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmnist_edu.beyond import column_order as co
from fmnist_edu.beyond import tabular
from fmnist_edu.comparison import compare


def _plain(text: str) -> str:
    assert " " not in text  # non-breaking spaces only: p never parts from its value
    return text.replace("\u00a0", " ")


def test_every_p_value_is_written_one_way():
    assert _plain(co.p_text(0.0031)) == "p = 0.003"
    assert _plain(co.p_text(0.25)) == "p = 0.250"
    assert _plain(co.p_text(1.0)) == "p = 1.000"
    assert _plain(co.p_text(0.001)) == "p = 0.001"
    assert co.p_text(0.00099) == co.p_text(0.0)
    assert _plain(co.p_text(0.0)) == "p < 0.001"
    assert co.p_text(None) == "no test"
    with pytest.raises(ValueError, match="lies in"):
        co.p_text(1.5)


def test_the_block_anova_separates_order_effects_from_repeat_noise():
    rng = np.random.default_rng(0)
    repeats = rng.normal(0.9, 0.02, 5)  # some repeats (fold splits) are easier than others
    noise = repeats + rng.normal(0, 0.002, (3, 5))
    assert co.block_anova(noise) > 0.05
    shifted = noise.copy()
    shifted[1] -= 0.01  # one order is a point worse in every repeat: the blocks expose it
    assert co.block_anova(shifted) < 0.001
    assert co.block_anova(np.full((3, 4), 0.9)) == 1.0  # nothing varies
    assert co.block_anova(np.array([[0.9, 0.9], [0.8, 0.8]])) == 0.0  # only the order does
    assert co.block_anova(np.ones((3, 1))) is None  # one repeat: nothing to compare with


def _study(correct: dict[str, torch.Tensor]) -> co.OrderStudy:
    table = tabular.Table("toy", np.zeros((100, 2)), np.zeros(100, dtype=np.int64), ("a", "b"),
                          ("x",))  # fmt: skip
    orders = [np.arange(2)] * next(iter(correct.values())).shape[0]
    return co.OrderStudy(table, orders, (0, 1, 2), correct)


def test_the_order_test_finds_an_order_that_costs_accuracy():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(4, 3, 100, generator=g) < 0.8
    same = noise[:1].expand(4, 3, 100).clone()  # every order alike in every repeat
    shifted = same.clone()
    shifted[2, :, :30] = False  # one order is 30 points worse in every repeat
    study = _study({"same": same, "shifted": shifted})
    fixed = co.order_test(study, "same")
    assert fixed.p_value == 1.0 and not fixed.beyond_noise and fixed.changed_rows == 0
    effect = co.order_test(study, "shifted")
    assert effect.beyond_noise and _plain(co.p_text(effect.p_value)) == "p < 0.001"
    assert effect.largest.b_better and effect.changed_rows > 0  # order 2 is the worse one


def test_a_small_order_study_runs_every_model_on_every_order():
    study = co.order_study(
        tabular.load_table("wine"), (0, 1), shuffles=1, models=("boosted trees",)
    )
    assert study.correct["boosted trees"].shape == (2, 2, 178)
    assert study.accuracy("boosted trees").shape == (2, 2)
    assert len(study.chosen["boosted trees"]) == 2
    config, share = co.most_chosen(sum(study.chosen["boosted trees"], []))
    assert config in [dict(c) for c in sum(study.chosen["boosted trees"], [])] and 0 < share <= 1


def test_most_chosen_counts_configurations():
    chosen = [{"lr": 1, "steps": 2}, {"steps": 2, "lr": 1}, {"lr": 3, "steps": 2}]
    assert co.most_chosen(chosen) == ({"lr": 1, "steps": 2}, 2 / 3)


def test_the_verdict_says_its_interval_is_over_repeats_and_rows_not_seeds():
    a = torch.ones(3, 200, dtype=torch.bool)
    b = a.clone()
    b[:, :40] = False
    text = co.verdict(compare(a, b), "MLP", "trees")
    assert text.startswith("the MLP beats the trees by 20.0 points")
    assert "resampling the 3 repeats of cross-validation and the 200 rows" in text
    assert "seed" not in text
    tie = co.verdict(compare(a, a.clone()), "MLP", "trees")
    assert "within noise" in tie and "-0.0" not in tie


def test_the_chapter_writes_p_values_only_through_p_text():
    import re
    from pathlib import Path

    chapter = (Path(__file__).resolve().parent.parent / "book" / "when_not_cnn.md").read_text()
    assert "p_text(" in chapter
    typed = re.findall(r"p_value:\.|\bp = \{|\"p [=<] |\*p\* =|\b_p\(", chapter)
    assert not typed, typed
