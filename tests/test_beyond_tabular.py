"""fmnist_edu.beyond.tabular: the bundled table, the models, cross-validation, order tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from fmnist_edu import permutation
from fmnist_edu.beyond import tabular
from fmnist_edu.errors import ConfigError


@pytest.fixture(scope="module")
def wine() -> tabular.Table:
    return tabular.load_table("wine")


def test_the_bundled_tables_load(wine):
    assert wine.x.shape == (178, 13) and wine.y.shape == (178,)
    assert set(wine.y.tolist()) == {0, 1, 2} and len(wine.feature_names) == 13
    assert tabular.load_table("breast_cancer").x.shape == (569, 30)
    with pytest.raises(ConfigError, match="choose one of wine, breast_cancer"):
        tabular.load_table("iris")


def test_the_cnn_depends_on_the_column_order_and_the_mlp_only_through_its_weights():
    torch.manual_seed(0)
    x = torch.randn(32, 13)
    order = torch.randperm(13, generator=torch.Generator().manual_seed(1))
    cnn = tabular.FeatureCNN(3).eval()
    assert cnn(x).shape == (32, 3)
    assert not torch.allclose(cnn(x), cnn(x[:, order]), atol=1e-4)
    mlp = tabular.FeatureMLP(13, 3).eval()
    before = mlp(x)
    permutation.relabel_first_layer(mlp, order)
    torch.testing.assert_close(mlp(x[:, order]), before, rtol=0, atol=1e-5)
    dense = tabular.FeatureCNN(3, head="dense", features=13)
    assert dense(x).shape == (32, 3)
    with pytest.raises(ConfigError, match="needs the number of features"):
        tabular.FeatureCNN(3, head="dense")
    with pytest.raises(ConfigError, match="must be odd"):
        tabular.FeatureCNN(3, kernel_size=2)


def test_the_torch_classifier_works_as_a_scikit_learn_estimator(wine):
    y = np.where(wine.y == 0, 5, 7)  # classes need not be 0..k-1
    model = tabular.estimator("MLP", seed=0)
    predicted = model.fit(wine.x, y).predict(wine.x)
    assert set(predicted.tolist()) <= {5, 7} and (predicted == y).mean() > 0.9
    again = clone(model).fit(wine.x, y).predict(wine.x)
    assert (again == predicted).all()  # seeded
    with pytest.raises(ConfigError, match="choose 'cnn' or 'mlp'"):
        tabular.TorchClassifier("rnn").fit(wine.x, y)
    with pytest.raises(ConfigError, match="choose one of"):
        tabular.estimator("SVM", seed=0)


def test_cross_validation_predicts_every_row_once_and_repeatably(wine):
    order = np.arange(13)
    a = tabular.cv_correct(tabular.estimator("boosted trees", 0), wine, order)
    b = tabular.cv_correct(tabular.estimator("boosted trees", 0), wine, order)
    assert a.shape == (178,) and a.dtype == bool and (a == b).all()
    assert a.mean() > 0.85


def test_column_orders_start_with_the_tables_own():
    orders = tabular.column_orders(13, shuffles=3, seed=0)
    assert len(orders) == 4 and (orders[0] == np.arange(13)).all()
    assert all(sorted(o) == list(range(13)) for o in orders)
    assert not (orders[1] == orders[0]).all()
    assert all((o == p).all() for o, p in zip(orders, tabular.column_orders(13, 3, 0), strict=True))


def test_a_small_order_study_has_one_row_per_order_and_seed(wine):
    study = tabular.order_study(wine, (0, 1), shuffles=1, models=("MLP", "boosted trees"))
    assert study.correct["MLP"].shape == (2, 2, 178)
    assert study.correct["boosted trees"].shape == (2, 1, 178)  # deterministic: one run
    assert study.accuracy("MLP").shape == (2,)


def _study(correct: dict[str, torch.Tensor]) -> tabular.OrderStudy:
    table = tabular.Table("toy", np.zeros((100, 2)), np.zeros(100, dtype=np.int64), ("a", "b"),
                          ("x",))  # fmt: skip
    orders = [np.arange(2)] * next(iter(correct.values())).shape[0]
    return tabular.OrderStudy(table, orders, (0, 1, 2), correct)


def test_the_order_test_separates_order_effects_from_seed_noise():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(4, 3, 100, generator=g) < 0.8  # every order alike, seeds differ
    shifted = noise.clone()
    shifted[1, :, :30] = False  # one order is 30 points worse in every seed
    same = noise[:1, :1].expand(4, 1, 100).clone()  # deterministic, identical orders
    study = _study({"noise": noise, "shifted": shifted, "same": same})
    assert not tabular.order_test(study, "noise").beyond_noise
    effect = tabular.order_test(study, "shifted")
    assert effect.beyond_noise and effect.p_value < 0.001
    assert effect.largest.b_better  # the shuffled order is the worse one
    fixed = tabular.order_test(study, "same")
    assert fixed.p_value is None and not fixed.beyond_noise and fixed.changed_rows == 0
