"""The grading helper: one fixed evaluation for any model, saved and read back."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from fmnist_edu import grading, models, training
from fmnist_edu.errors import ConfigError, FmnistEduError


def test_a_grade_is_the_books_evaluation_on_the_whole_test_split(subset, tmp_path):
    torch.manual_seed(0)
    model = models.MLP()
    record = grading.grade(model, subset, name="alice")
    expected = training.evaluate(model.eval(), subset.test)
    assert record.accuracy == expected.accuracy
    assert list(record.per_class_accuracy) == expected.per_class_accuracy
    assert record.test_images == len(subset.test) and record.parameters == 109_386
    assert record.data_fingerprint == subset.fingerprint
    path = record.save(tmp_path / "alice.json")
    assert grading.Grade.load(path) == record


def test_a_model_of_the_wrong_shape_is_one_line(subset):
    with pytest.raises(ConfigError, match=r"'bob' must map .*\(N, 10\)"):
        grading.grade(nn.Sequential(nn.Flatten(), nn.Linear(784, 3)), subset, name="bob")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"accuracy": 1.5}, "not a share"),
        ({"accuracy": float("nan")}, "not a share"),
        ({"per_class_accuracy": [0.5] * 9}, "10 numbers"),
        ({"parameters": -1}, "not a count"),
        ({"name": 3}, "not text"),
    ],
)
def test_a_damaged_record_names_the_file_and_field(change, message, subset, tmp_path):
    path = grading.grade(models.MLP(), subset, name="carol").save(tmp_path / "carol.json")
    fields = json.loads(path.read_text()) | change
    path.write_text(json.dumps(fields))
    with pytest.raises(FmnistEduError, match=f"carol.json.*{message}"):
        grading.Grade.load(path)


def test_saving_into_a_missing_folder_says_so(subset, tmp_path):
    record = grading.grade(models.MLP(), subset)
    with pytest.raises(FmnistEduError, match="does not exist"):
        record.save(tmp_path / "nowhere" / "x.json")
