"""The real subset loads with the documented counts; splits are stratified and reproducible."""

from __future__ import annotations

import pytest
import torch
from conftest import write_idx_folder

from fmnist_edu import data, settings
from fmnist_edu.errors import DataError

# From the subset's README: the first 3,615 / 1,770 records of the official files.
TRAIN_COUNTS = [335, 394, 357, 375, 357, 357, 362, 376, 342, 360]
TEST_COUNTS = [174, 176, 194, 166, 201, 173, 183, 171, 166, 166]


def test_subset_sizes_and_class_counts(subset):
    assert (len(subset.train), len(subset.test)) == (3615, 1770)
    assert subset.train.class_counts() == TRAIN_COUNTS
    assert subset.test.class_counts() == TEST_COUNTS
    assert subset.train.images.dtype == torch.uint8
    assert subset.train.images.shape == (3615, 28, 28)


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.DATA_ENV, str(tmp_path / "env"))
    assert settings.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert settings.data_dir() == tmp_path / "env"
    monkeypatch.delenv(settings.DATA_ENV)
    assert settings.data_dir() == settings.project_root() / "data"


def test_validation_split_is_stratified_disjoint_and_fixed(subset):
    train, val = data.train_val_split(subset.train, 0.1, seed=0)
    assert len(train) + len(val) == len(subset.train)
    expected = [round(c * 0.1) for c in TRAIN_COUNTS]
    assert val.class_counts() == expected
    again_train, again_val = data.train_val_split(subset.train, 0.1, seed=0)
    assert torch.equal(val.images, again_val.images)
    _, other_val = data.train_val_split(subset.train, 0.1, seed=1)
    assert not torch.equal(val.images, other_val.images)
    # No image is in both (compare whole images as bytes).
    seen = {bytes(img.numpy()) for img in train.images}
    assert not any(bytes(img.numpy()) in seen for img in val.images)


def test_stratified_limit_keeps_proportions(subset):
    small = data.stratified_limit(subset.train, 500, seed=0)
    assert len(small) == 500
    counts = small.class_counts()
    for got, full in zip(counts, TRAIN_COUNTS, strict=True):
        assert abs(got - full * 500 / 3615) < 1
    assert data.stratified_limit(subset.train, 10_000) is subset.train
    with pytest.raises(DataError, match="limit must be a positive"):
        data.stratified_limit(subset.train, 0)


def test_a_limit_below_the_number_of_classes_keeps_that_many_images(subset):
    tiny = data.stratified_limit(subset.train, 5, seed=0)
    assert len(tiny) == 5
    assert sorted(tiny.class_counts(), reverse=True)[:5] == [1] * 5


def test_empty_splits_are_explained(subset, tmp_path):
    empty = subset.train.subset(torch.arange(0))
    with pytest.raises(DataError, match="the split holds no images"):
        data.train_val_split(empty)
    one_each = subset.train.subset(
        torch.tensor([int((subset.train.labels == c).nonzero()[0]) for c in range(10)])
    )
    with pytest.raises(DataError, match="leaves no validation images"):
        data.train_val_split(one_each, 0.1)
    with pytest.raises(DataError, match="leaves no training images"):
        data.train_val_split(one_each, 0.9)
    folder = write_idx_folder(tmp_path / "empty", n_train=0)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: holds no images"):
        data.load(folder)
