"""Epochs that were not validated: recorded as None, stored, checked, and refused by curves."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from fmnist_edu import (
    analysis,
    data,
    experiments,
    inductive,
    models,
    plots_architectures,
    records,
    training,
)
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment

LAST = Experiment(model="mlp", epochs=2, limit=300, validate="last")


def _history(subset, validate, epochs=3, val=True):
    train, val_split = data.train_val_split(subset.train)
    training.seed_everything(0)
    net = models.MLP()
    history = training.train(
        net, data.stratified_limit(train, 200), val_split if val else None, epochs=epochs,
        progress=False, device="cpu", validate=validate,
    )  # fmt: skip
    return net, history


@pytest.mark.parametrize("validate, measured", [("epoch", [1, 2, 3]), ("last", [3]), ("none", [])])
def test_only_the_chosen_epochs_are_validated_and_the_rest_are_none(subset, validate, measured):
    _, history = _history(subset, validate)
    assert history.validated() == measured == records.validated_epochs(validate, 3)
    for e in history.epochs:
        assert (e.val_accuracy is None) == (e.epoch not in measured)
        assert e.val_accuracy is None or 0 < e.val_accuracy <= 1


def test_without_a_validation_split_no_epoch_is_validated(subset):
    _, history = _history(subset, "epoch", val=False)
    assert history.validated() == [] and history.epochs[0].val_accuracy is None


def test_validation_changes_no_weight(subset):
    every, h_every = _history(subset, "epoch")
    never, h_never = _history(subset, "none")
    assert h_every.column("loss") == h_never.column("loss")
    for a, b in zip(every.parameters(), never.parameters(), strict=True):
        assert torch.equal(a, b)


def test_unvalidated_epochs_round_trip_through_json_as_null(subset):
    _, history = _history(subset, "last", epochs=2)
    text = json.dumps(dataclasses.asdict(history))
    assert '"val_accuracy": null' in text
    assert training.History.from_dict(json.loads(text)) == history


def test_a_curve_of_unvalidated_epochs_is_refused_in_one_line(subset):
    _, history = _history(subset, "last")
    assert history.column("loss")  # measured every epoch
    with pytest.raises(ValueError, match=r"val_accuracy was not measured after epoch\(s\) 1, 2"):
        history.column("val_accuracy")
    with pytest.raises(ValueError, match="validate='epoch'"):
        analysis.curve_end([history], "val_accuracy")
    with pytest.raises(ValueError, match="validate='epoch'"):
        plots_architectures.learning_curves({"mlp": [history]})


def test_an_unknown_validation_is_explained(subset):
    with pytest.raises(ConfigError, match="validate='sometimes': choose one of epoch, last"):
        Experiment(validate="sometimes")
    with pytest.raises(ConfigError, match="validate='always'"):
        _history(subset, "always")


def test_the_validation_field_keys_the_store_only_when_not_the_default():
    default = Experiment(model="cnn")
    assert "validate" not in default.config()
    assert dataclasses.replace(default, validate="epoch").config() == default.config()
    for validate in ("last", "none"):
        changed = dataclasses.replace(default, validate=validate)
        assert changed.config() == default.config() | {"validate": validate}
        assert Experiment(**json.loads(json.dumps(changed.config()))) == changed
        assert changed.label() == default.label()  # the same model, trained the same way


def test_a_stored_run_keeps_its_unvalidated_epochs(subset, store):
    first = experiments.run(LAST, subset, store, progress=False)
    again = experiments.run(LAST, subset, store, progress=False)
    assert again.from_store and again.history == first.history
    assert again.history.validated() == [2]


def test_the_sample_efficiency_runs_do_not_validate_but_the_full_one_does():
    runs = inductive.sample_efficiency_experiments("cnn", 3252, 3)
    assert [r.validate for r in runs[:-1]] == ["none"] * (len(runs) - 1)
    assert runs[-1] == Experiment(model="cnn", epochs=3)  # shared with Architectures
