"""Experiments and the results store: cached by config, data and code; damage is recomputed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest
import torch

from fmnist_edu import experiments, models, settings
from fmnist_edu import store as store_module
from fmnist_edu.errors import ConfigError, StoreError
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


def test_new_fields_leave_default_configs_as_they_were():
    for model in ("mlp", "cnn"):
        default = Experiment(model=model)
        assert "hidden" not in default.config() and "augment" not in default.config()
        same = dataclasses.replace(default, hidden=default.default_hidden())
        assert same.config() == default.config()
        assert dataclasses.replace(default, augment="shift").config() != default.config()
    wide = Experiment(model="mlp", hidden=(512, 256))
    assert wide.config() == Experiment(model="mlp").config() | {"hidden": (512, 256)}


def test_hidden_widths_shape_the_model():
    wide = Experiment(model="mlp", hidden=[512, 256])  # a list, as JSON gives it back
    assert wide.hidden == (512, 256)
    expected = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert models.count_parameters(wide.build()) == expected
    cnn = Experiment(model="cnn", hidden=(256,))
    assert models.count_parameters(cnn.build()) > models.count_parameters(Experiment().build())
    assert "512,256" in wide.label() and "shift" in Experiment(augment="shift").label()


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_experiments_round_trip_through_json(model):
    original = Experiment(model=model, hidden=(96,), augment="shift", seed=7, limit=100)
    restored = Experiment(**json.loads(json.dumps(dataclasses.asdict(original))))
    assert restored == original and hash(restored) == hash(original)
    config = json.loads(json.dumps(original.config()))
    assert Experiment(**config).config() == original.config()


def test_a_wider_mlp_runs_over_seeds_and_comes_back_equal_from_the_store(subset, store):
    wide = Experiment(model="mlp", hidden=(256, 128), epochs=1, limit=200)
    first = experiments.run_seeds(wide, seeds=[0, 1], dataset=subset, store=store)
    again = experiments.run_seeds(wide, seeds=[0, 1], dataset=subset, store=store)
    assert all(r.from_store for r in again) and not any(r.from_store for r in first)
    for a, b in zip(first, again, strict=True):
        assert b.experiment == a.experiment and b.test == a.test and b.history == a.history
        assert a.metrics() == b.metrics()
        assert b.parameters == models.count_parameters(wide.build())
    plain = experiments.run(dataclasses.replace(wide, hidden=None), subset, store)
    assert not plain.from_store and plain.parameters < first[0].parameters


def test_shift_augmentation_is_deterministic_and_stored_apart(subset, store, tmp_path):
    shifted = dataclasses.replace(QUICK, augment="shift")
    a = experiments.run(shifted, subset, store, progress=False)
    b = experiments.run(shifted, subset, store_module.ResultStore(tmp_path / "other"))
    plain = experiments.run(QUICK, subset, store, progress=False)
    assert not b.from_store and not plain.from_store
    assert a.history.column("loss") == b.history.column("loss")
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert a.history.column("loss") != plain.history.column("loss")


def test_changed_data_or_code_changes_the_key(store, monkeypatch):
    key = store.key(QUICK.config(), "data-a")
    assert store.key(QUICK.config(), "data-b") != key
    monkeypatch.setattr(store_module, "code_version", lambda: "other-code")
    assert store.key(QUICK.config(), "data-a") != key


def _rewrite(store, key, metrics=None, state=None):
    """Replace an entry's metrics or weights, keeping the JSON's hash of the weights right."""
    meta_path, weights_path = store.root / f"{key}.json", store.root / f"{key}.pt"
    meta = json.loads(meta_path.read_text())
    if state is not None:
        torch.save(state, weights_path)
        meta["weights_sha256"] = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    if metrics is not None:
        meta["metrics"] = metrics(meta["metrics"])
    meta_path.write_text(json.dumps(meta))


def _set(path, value):
    def change(metrics):
        *parents, last = path
        target = metrics
        for p in parents:
            target = target[p]
        target[last] = value
        return metrics

    return change


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


DAMAGE = {
    "truncated weights": ("weights", None),
    "truncated json": ("json", None),
    "missing field": (lambda m: {k: v for k, v in m.items() if k != "test"}, None),
    "metrics not an object": (lambda m: "abc", None),
    "accuracy a word": (_set(("test", "accuracy"), "high"), None),
    "short per-class list": (_set(("test", "per_class_accuracy"), [0.5] * 9), None),
    "confusion 9 rows": (_set(("test", "confusion"), [[0] * 10] * 9), None),
    "history not a list": (_set(("history", "epochs"), "abc"), None),
    "too few epochs": (_set(("history", "epochs"), []), None),
    "negative count": (_set(("train_images",), -5), None),
    "infinite train_seconds": (_set(("train_seconds",), float("inf")), None),
    "infinite epoch seconds": (_set(("history", "epochs", 0, "seconds"), float("inf")), None),
    "validation dropped": (_set(("history", "epochs", 0, "val_accuracy"), None), None),
    "wrong parameters": (_set(("parameters",), 7), None),
    "wrong state keys": (None, {"w": torch.zeros(3)}),
    "wrong state shapes": (None, models.MLP(hidden=(128, 32)).state_dict()),
    "code in the pickle": (None, {"fc1.weight": Payload()}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_entry_is_set_aside_and_recomputed(subset, store, damage):
    first = experiments.run(QUICK, subset, store, progress=False)
    key = store.key(QUICK.config(), subset.fingerprint)
    metrics, state = DAMAGE[damage]
    if metrics in ("weights", "json"):
        path = store.root / (f"{key}.pt" if metrics == "weights" else f"{key}.json")
        path.write_bytes(path.read_bytes()[:-20])
    else:
        _rewrite(store, key, metrics, state)
    with pytest.warns(UserWarning, match="damaged") as caught:
        again = experiments.run(QUICK, subset, store, progress=False)
    assert len(caught) == 1 and f"{key}.json" in str(caught[0].message)
    assert not again.from_store
    assert again.test == first.test  # same seed, same result
    assert len(list((store.root / store_module.DAMAGED).glob(f"{key}-*.json"))) == 1
    assert experiments.run(QUICK, subset, store, progress=False).from_store
    assert not list(store.root.glob("*.tmp"))


def test_an_unwritable_store_fails_before_training(subset, tmp_path, monkeypatch):
    blocker = tmp_path / "cache-file"
    blocker.write_text("")
    monkeypatch.setenv(settings.CACHE_ENV, str(blocker))

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the store cannot hold the result")

    monkeypatch.setattr(experiments.runner, "train", no_training)
    with pytest.raises(StoreError, match=f"{blocker}.*{settings.CACHE_ENV}"):
        experiments.run(QUICK, subset, progress=False)


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


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"kernel_size": 1001}, "kernel_size=1001: must be between 1 and 27"),
        ({"kernel_size": 0}, "kernel_size=0"),
        ({"kernel_size": 4}, "'same' padding needs an odd kernel"),
        ({"kernel_size": 2.5}, "kernel_size=2.5: must be a whole number"),
        ({"depth": 5}, "depth=5"),
        ({"stride": 0}, "stride=0"),
        ({"padding": "full"}, "padding='full'"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 10**23}, "epochs=1"),
        ({"epochs": True}, "epochs=True: must be a whole number"),
        ({"seed": -1}, "seed=-1"),
        ({"seed": 2**64}, "seed=18446744073709551616"),
        ({"seed": 1e20}, "seed=1e\\+20: must be a whole number"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"lr": 0}, "lr=0"),
        ({"lr": math.inf}, "lr=inf"),
        ({"lr": math.nan}, "lr=nan"),
        ({"lr": "0.1"}, "lr='0.1': must be a number"),
        ({"limit": 0}, "limit=0"),
        ({"val_fraction": 1.0}, "val_fraction=1.0"),
        ({"augment": "flip"}, "augment='flip'"),
        ({"hidden": (0,)}, "hidden=0"),
        ({"hidden": (512, "x")}, "hidden='x'"),
        ({"hidden": "512"}, "give a sequence of widths"),
        ({"hidden": (10**6,)}, "hidden=1000000"),
        ({"model": "mlp", "hidden": ()}, "give 1 to 8 widths"),
        ({"model": "mlp", "hidden": (8,) * 9}, "give 1 to 8 widths"),
        ({"hidden": (512, 256)}, "the CNN has one dense layer"),
    ],
)
def test_out_of_range_settings_are_config_errors(fields, message):
    with pytest.raises(ConfigError, match=message):
        Experiment(**fields)


def test_whole_numbers_of_other_types_are_normalised():
    numpy = pytest.importorskip("numpy")
    experiment = Experiment(seed=numpy.int64(3), hidden=(numpy.int32(64),), lr=1)
    assert type(experiment.seed) is int and experiment.hidden == (64,) and experiment.lr == 1.0
    assert json.dumps(experiment.config())  # JSON-ready
