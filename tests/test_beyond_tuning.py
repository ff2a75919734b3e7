"""fmnist_edu.beyond.bank and tuning: many networks at once; an equal, nested tuning budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler

from fmnist_edu.beyond import bank, fit, tabular, tuning
from fmnist_edu.errors import ConfigError


@pytest.fixture(scope="module")
def wine() -> tabular.Table:
    return tabular.load_table("wine")


def test_standardized_matches_a_scaler_fitted_on_each_copys_rows(wine):
    x = torch.as_tensor(wine.x)
    rows = torch.zeros(2, len(x), dtype=torch.bool)
    rows[0, :100], rows[1, 50:] = True, True
    views = bank.standardized(x, rows)
    for k in range(2):
        expected = StandardScaler().fit(wine.x[rows[k].numpy()]).transform(wine.x)
        np.testing.assert_allclose(views[k].numpy(), expected, rtol=1e-4, atol=1e-4)


def test_a_copy_in_the_bank_trains_as_it_would_alone(wine):
    x, y = torch.as_tensor(wine.x), torch.as_tensor(wine.y)
    rows = torch.zeros(2, len(y), dtype=torch.bool)
    rows[0, ::2], rows[1, 1::2] = True, True  # different rows, seeds and rates
    views = bank.standardized(x, rows)
    build = lambda: tabular.FeatureMLP(13, 3)  # noqa: E731
    both = bank.train_bank(build, views, y, rows, [3, 4], [1e-2, 3e-2], checkpoints=[0, 20])
    for k, (seed, lr) in enumerate([(3, 1e-2), (4, 3e-2)]):
        torch.manual_seed(seed)
        alone = build()
        assert (fit.predict(alone, views[k]) == both[0, k]).all()  # the same start
        fit.fit(alone, views[k][rows[k]], y[rows[k]], epochs=20, batch_size=int(rows[k].sum()),
                lr=lr, seed=seed)  # fmt: skip
        assert (fit.predict(alone, views[k]) == both[1, k]).float().mean() > 0.99
    with pytest.raises(ConfigError, match="do not agree"):
        bank.train_bank(build, views, y, rows, [3], [1e-2, 3e-2], checkpoints=[1])


def test_every_family_gets_the_same_number_of_configurations():
    families = [tuning.configurations(f) for f in tuning.GRIDS]
    assert [len(c) for c in families] == [tuning.CONFIGS] * len(tuning.GRIDS)
    assert tuning.configurations("networks")[0] == {"lr": 1e-2, "steps": 20}


def test_the_best_inner_score_is_chosen_and_the_first_on_a_tie():
    configs = [{"a": 1}, {"a": 2}, {"a": 3}]
    assert tuning._choose(np.array([[0.5, 0.9, 0.7], [0.5, 0.8, 0.9]]), configs) == {"a": 2}
    assert tuning._choose(np.array([[0.8, 0.8, 0.1]]), configs) == {"a": 1}


@pytest.mark.parametrize("name", ["MLP", tuning.TREES])
def test_nested_cross_validation_predicts_every_row_once_per_repeat(wine, name):
    result = tuning.nested(name, wine.x, wine.y, repeats=(0, 1))
    assert result.correct.shape == (2, 178) and result.correct.mean() > 0.85
    assert len(result.chosen) == 2 * tuning.FOLDS
    family = "trees" if name == tuning.TREES else "networks"
    assert all(c in tuning.configurations(family) for c in result.chosen)
    # Each repeat splits the rows anew: even the deterministic trees' predictions differ,
    # so an interval over repeats measures the folds, not seeds.
    tests = [np.concatenate([t for _, t in tuning.outer_folds(wine.y, r)]) for r in (0, 1)]
    assert all(sorted(t) == list(range(178)) for t in tests)
    assert not (tuning.outer_folds(wine.y, 0)[0][1] == tuning.outer_folds(wine.y, 1)[0][1]).all()
    again = tuning.nested(name, wine.x, wine.y, repeats=(1,))
    assert (again.correct[0] == result.correct[1]).all()  # repeatable
    with pytest.raises(ConfigError, match="choose one of"):
        tuning.nested("SVM", wine.x, wine.y, repeats=(0,))


def test_configurations_are_described_in_words():
    assert tuning.describe({"lr": 0.01, "steps": 50}) == "learning rate 0.01, 50 steps"
    assert tuning.describe({"max_depth": None, "rounds": 75}) == "depth unlimited, 75 rounds"
    assert tuning.describe({"max_depth": 2, "rounds": 25}) == "depth 2, 25 rounds"
