"""Choosing images to explain, per-class mean maps and the share of a map on the garment."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import interpret, models
from fmnist_edu.errors import ConfigError


def test_stratified_sample_takes_the_same_number_of_each_class(subset):
    index = interpret.stratified_sample(subset.test.labels, 3, seed=0)
    assert torch.bincount(subset.test.labels[index], minlength=10).tolist() == [3] * 10
    assert torch.equal(index, index.sort().values)
    assert torch.equal(index, interpret.stratified_sample(subset.test.labels, 3, seed=0))
    assert not torch.equal(index, interpret.stratified_sample(subset.test.labels, 3, seed=1))
    with pytest.raises(ConfigError, match="per_class=0"):
        interpret.stratified_sample(subset.test.labels, 0)


def test_examples_are_right_and_wrong_predictions_within_the_confused_pairs():
    labels = torch.tensor([0, 6, 6, 0, 2, 4, 0, 6, 1, 2])
    predicted = torch.tensor([0, 0, 6, 6, 4, 2, 0, 6, 1, 2])
    right, wrong = interpret.pick_examples(predicted, labels, [(0, 6), (2, 4)], 4, 5)
    assert all(labels[i] == predicted[i] and int(labels[i]) in (0, 6, 2, 4) for i in right)
    assert sorted(wrong.tolist()) == [1, 3, 4, 5]  # every mix-up there is, in turn
    assert {frozenset((int(labels[i]), int(predicted[i]))) for i in wrong[:2]} == {
        frozenset((0, 6)), frozenset((2, 4))}  # fmt: skip
    assert len(right) == 4 and 8 not in right.tolist()  # class 1 is in no pair


def test_class_mean_maps_average_absolute_maps_over_images_and_models(subset):
    torch.manual_seed(0)
    cnns = [models.CNN().eval(), models.CNN().eval()]
    maps = interpret.class_mean_maps(cnns, subset.test, "saliency", per_class=2)
    assert maps.shape == (10, 28, 28) and bool((maps >= 0).all())
    index = interpret.stratified_sample(subset.test.labels, 2)
    images, labels = subset.test.images[index], subset.test.labels[index]
    first = torch.stack([interpret.attribute(m, images, "saliency", labels) for m in cnns])
    expected = first[:, labels == 3].mean((0, 1))
    torch.testing.assert_close(maps[3], expected)


def test_ink_share_is_the_map_mass_on_non_zero_pixels():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, :14] = 200  # the top half is garment
    maps = torch.zeros(2, 28, 28)
    maps[0, :14] = -1.0  # all on the garment (signs do not matter)
    maps[1] = 1.0  # spread evenly
    assert torch.allclose(interpret.ink_share(maps, images), torch.tensor([1.0, 0.5]))
