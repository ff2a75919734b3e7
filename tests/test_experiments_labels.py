"""The ``labels`` field of an experiment: true labels, or a seeded permutation of them."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import experiments
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment


def test_true_labels_keep_the_old_configuration_and_label():
    assert "labels" not in Experiment().config()
    assert Experiment(labels="shuffled").config()["labels"] == "shuffled"
    assert Experiment(labels="shuffled").label() == "cnn k3 d2 s1 same shuffled-labels"


def test_unknown_labels_value_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError, match="labels='random'"):
        Experiment(labels="random")


def test_shuffled_labels_permute_the_training_labels_only(subset):
    true_train, true_val = experiments.prepare_splits(Experiment(), subset)
    train, val = experiments.prepare_splits(Experiment(labels="shuffled", seed=3), subset)
    assert torch.equal(train.images, true_train.images)
    assert torch.equal(val.labels, true_val.labels)  # validation stays true
    assert torch.equal(train.labels.sort().values, true_train.labels.sort().values)
    assert (train.labels == true_train.labels).float().mean() < 0.2  # most labels moved
    again, _ = experiments.prepare_splits(Experiment(labels="shuffled", seed=3), subset)
    other, _ = experiments.prepare_splits(Experiment(labels="shuffled", seed=4), subset)
    assert torch.equal(again.labels, train.labels)  # the seed decides the permutation
    assert not torch.equal(other.labels, train.labels)


def test_a_model_trained_on_shuffled_labels_does_not_generalise(subset, store):
    result = experiments.run(
        Experiment(labels="shuffled", epochs=1, limit=600), subset, store, progress=False
    )
    assert result.test.accuracy < 0.3  # chance is 0.1; true labels give about 0.7 here
    assert experiments.cached(Experiment(limit=600, epochs=1), subset, store) is None
