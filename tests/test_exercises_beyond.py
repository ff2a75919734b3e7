"""The exercises of "When not to use CNNs" work with the package as it is: their recipes, small."""

from __future__ import annotations

import torch

from fmnist_edu import training
from fmnist_edu.beyond import column_order, fit, longrange, sets, tabular, tuning
from fmnist_edu.cli import main


def test_exercise_1_the_averaged_cnn_and_its_blind_spot():
    table = tabular.load_table()
    small = tabular.Table("small", table.x[::4], table.y[::4], table.feature_names,
                          table.class_names)  # fmt: skip
    study = column_order.order_study(small, repeats=(0, 1), shuffles=1,
                                     models=("1-D CNN, averaged",))  # fmt: skip
    assert study.correct["1-D CNN, averaged"].shape == (2, 2, len(small.y))
    assert 0 < column_order.order_test(study, "1-D CNN, averaged").accuracy.min() <= 1
    net = tuning.NETS["1-D CNN, averaged"](30, 2).eval()
    a, b = torch.zeros(1, 30), torch.zeros(1, 30)
    a[0, 8], b[0, 20] = 5.0, 5.0
    torch.testing.assert_close(net(a), net(b), rtol=0, atol=1e-6)


def test_exercise_2_the_wine_table():
    table = tabular.load_table("wine")
    assert len(table.class_names) == 3
    result = tuning.nested("MLP", table.x, table.y, repeats=(0,))
    assert result.correct.shape == (1, len(table.y)) and result.correct.mean() > 0.5


def test_exercise_3_a_wider_fully_convolutional_network():
    model = longrange.MarkNet("average", layers=7)
    assert longrange.decision_field(model) >= longrange.min_window()
    train_pairs, test_pairs = longrange.make_pairs(64, seed=1), longrange.make_pairs(32, seed=2)
    training.train(model, train_pairs, None, epochs=1, batch_size=64, lr=3e-3, seed=0,
                   progress=False)  # fmt: skip
    assert 0 <= training.evaluate(model, test_pairs).accuracy <= 1


def test_exercise_4_deep_sets_summed_in_the_order_listed():
    train_sets, test_sets = sets.make_sets(200, seed=1), sets.make_sets(100, seed=2)
    model = sets.DeepSets(sorted_sum=False)
    fit.fit(model, sets.one_hot(train_sets), train_sets.labels, epochs=2, lr=1e-2)
    effect = sets.order_effect(model, test_sets)
    assert effect.max_logit_change < 1e-3  # rounding at most, bit-identical or not
    assert isinstance(effect.identical, bool)


def test_exercise_5_another_permutation_from_the_command_line(subset_dir, tmp_path, monkeypatch,
                                                               capsys):  # fmt: skip
    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    args = ["--model", "cnn", "--epochs", "1", "--limit", "100", "--data-dir", str(subset_dir)]
    assert main(["train", *args, "--permute", "1"]) == 0
    assert "permuted 1" in capsys.readouterr().out
