"""Experiments and the results store: cached by config, data and code; damage is recomputed."""

from __future__ import annotations

import dataclasses
import json

import pytest

from fmnist_edu import experiments, settings
from fmnist_edu import store as store_module
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment

QUICK = Experiment(model="mlp", epochs=1, limit=300)


def test_second_request_is_answered_from_the_store(subset, store):
    first = experiments.run(QUICK, subset, store, progress=False)
    second = experiments.run(QUICK, subset, store, progress=False)
    assert not first.from_store and second.from_store
    assert second.test == first.test
    assert second.history == first.history
    assert second.train_images == 300
    model = second.model()
    for name, tensor in first.state_dict.items():
        assert (model.state_dict()[name] == tensor).all()


def test_a_changed_config_retrains(subset, store):
    experiments.run(QUICK, subset, store, progress=False)
    other = experiments.run(dataclasses.replace(QUICK, seed=1), subset, store, progress=False)
    assert not other.from_store


def test_mlp_key_ignores_cnn_fields():
    assert QUICK.config() == dataclasses.replace(QUICK, kernel_size=7).config()
    cnn = Experiment(model="cnn")
    assert cnn.config() != dataclasses.replace(cnn, kernel_size=5).config()


def test_changed_data_or_code_changes_the_key(store, monkeypatch):
    key = store.key(QUICK.config(), "data-a")
    assert store.key(QUICK.config(), "data-b") != key
    monkeypatch.setattr(store_module, "code_version", lambda: "other-code")
    assert store.key(QUICK.config(), "data-a") != key


@pytest.mark.parametrize("damage", ["weights", "json", "fields"])
def test_a_damaged_entry_is_detected_and_recomputed(subset, store, damage):
    first = experiments.run(QUICK, subset, store, progress=False)
    key = store.key(QUICK.config(), subset.fingerprint)
    path = store.root / (f"{key}.pt" if damage == "weights" else f"{key}.json")
    if damage == "fields":  # valid JSON, right weights, but the metrics lack a field
        meta = json.loads(path.read_text())
        del meta["metrics"]["test"]
        path.write_text(json.dumps(meta))
    else:
        path.write_bytes(path.read_bytes()[:-20])
    with pytest.warns(UserWarning, match="damaged"):
        again = experiments.run(QUICK, subset, store, progress=False)
    assert not again.from_store
    assert again.test == first.test  # same seed, same result
    assert experiments.run(QUICK, subset, store, progress=False).from_store
    assert not list(store.root.glob("*.tmp"))


def test_run_seeds_uses_the_profile(subset, store, monkeypatch):
    monkeypatch.setitem(settings.PROFILES, "tiny", settings.Profile("tiny", 1, (0, 1)))
    monkeypatch.setenv(settings.PROFILE_ENV, "tiny")
    results = experiments.run_seeds(Experiment(model="mlp", limit=200), dataset=subset, store=store)
    assert [r.experiment.seed for r in results] == [0, 1]
    assert all(r.experiment.epochs == 1 for r in results)
    summary = experiments.summarize_seeds(r.test.accuracy for r in results)
    assert summary.n == 2 and summary.std >= 0


def test_profiles_and_bad_settings():
    assert settings.profile("quick").epochs < settings.profile("full").epochs
    with pytest.raises(ConfigError, match="FMNIST_EDU_PROFILE='fast' is not a profile"):
        settings.profile("fast")
    with pytest.raises(ConfigError, match="model='vit'"):
        Experiment(model="vit")
    with pytest.raises(ConfigError, match="epochs=0"):
        Experiment(epochs=0)
