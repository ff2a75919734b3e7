"""A student's own nn.Module through Experiment -> results store -> Result."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from fmnist_edu import experiments, models, registry, settings, summary
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment


def tiny_bn_cnn() -> nn.Module:
    """A batch-norm CNN small enough to train in a second."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def tiny_bn_cnn_edited() -> nn.Module:
    """The same layers with a wider convolution: an edit that must retrain."""
    return nn.Sequential(
        nn.Conv2d(1, 12, 3, padding=1),
        nn.BatchNorm2d(12),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(12 * 4 * 4, 10),
    )


def wrong_output() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 7))


def wrong_input() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(28, 10))


TINY = {"epochs": 2, "limit": 1200}


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Each test starts from a registry holding only ``bn_cnn``; others never see it."""
    monkeypatch.setattr(registry, "_BUILDERS", {})
    models.register("bn_cnn", tiny_bn_cnn)


def test_a_registered_model_trains_stores_and_loads(subset, store):
    first = experiments.run(Experiment(model="bn_cnn", **TINY), subset, store, progress=False)
    again = experiments.run(Experiment(model="bn_cnn", **TINY), subset, store, progress=False)
    assert not first.from_store and again.from_store
    assert again.test.accuracy == first.test.accuracy
    assert first.test.accuracy > 0.3  # 20 steps: well above chance (0.1)
    model = again.model()
    assert isinstance(model, nn.Sequential) and isinstance(model[1], nn.BatchNorm2d)
    assert torch.equal(model[0].weight, first.state_dict["0.weight"])
    assert first.parameters == models.count_parameters(tiny_bn_cnn())


def test_a_function_can_be_given_directly_and_is_registered_under_its_name():
    experiment = Experiment(model=tiny_bn_cnn_edited, **TINY)
    assert experiment.model == "tiny_bn_cnn_edited" and experiment.custom
    assert Experiment(model="tiny_bn_cnn_edited", **TINY) == experiment
    assert experiment.label() == "tiny_bn_cnn_edited"


def test_editing_the_builder_changes_the_store_key_and_the_same_builder_keeps_it():
    base = Experiment(model="bn_cnn", **TINY).config()
    assert base == Experiment(model="bn_cnn", **TINY).config()
    models.register("bn_cnn", tiny_bn_cnn_edited, replace=True)
    assert Experiment(model="bn_cnn", **TINY).config()["builder"] != base["builder"]
    assert "kernel_size" not in base and "hidden" not in base


def test_the_seed_sets_the_initial_weights(subset):
    def weights(seed: int) -> torch.Tensor:
        experiment = Experiment(model="bn_cnn", seed=seed, **TINY)
        return experiments.compute(experiment, subset, progress=False).state_dict["0.weight"]

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(1))


@pytest.mark.parametrize(
    "builder, expected",
    [(wrong_output, r"\(N, 10\).*gave \(2, 7\)"), (wrong_input, r"\(N, 1, 28, 28\).*fails")],
)
def test_wrong_shapes_are_one_clear_error_before_training(builder, expected, subset, store,
                                                          monkeypatch):  # fmt: skip
    def no_training(*args, **kwargs):
        raise AssertionError("trained a model whose shapes are wrong")

    monkeypatch.setattr(experiments.runner, "train", no_training)
    with pytest.raises(ConfigError, match=expected) as caught:
        experiments.run(Experiment(model=builder, **TINY), subset, store, progress=False)
    assert "\n" not in str(caught.value)
    assert not list(store.root.glob("*.json")) if store.root.exists() else True


def test_mistakes_name_what_to_do():
    with pytest.raises(ConfigError, match="not a known model.*register"):
        Experiment(model="resnet9")
    with pytest.raises(ConfigError, match="register it first"):
        Experiment(model=lambda: tiny_bn_cnn())
    with pytest.raises(ConfigError, match="own builder"):
        Experiment(model="bn_cnn", hidden=(64,))
    with pytest.raises(ConfigError, match="book's own model"):
        models.register("cnn", tiny_bn_cnn)
    with pytest.raises(ConfigError, match="already registered"):
        models.register("bn_cnn", tiny_bn_cnn_edited)


def test_replace_follows_the_registry_not_the_old_builder():
    models.register("other_cnn", tiny_bn_cnn_edited, replace=True)
    moved = dataclasses.replace(Experiment(model="bn_cnn", **TINY), model="other_cnn")
    assert moved.builder is tiny_bn_cnn_edited


def test_run_seeds_keeps_the_epochs_it_was_given(subset, store, monkeypatch):
    monkeypatch.setitem(settings.PROFILES, "tiny", settings.Profile("tiny", 3, (0, 1)))
    monkeypatch.setenv(settings.PROFILE_ENV, "tiny")
    given = experiments.run_seeds(Experiment(model="bn_cnn", epochs=1, limit=200),
                                  dataset=subset, store=store, progress=False)  # fmt: skip
    assert [r.experiment.seed for r in given] == [0, 1]
    assert [r.experiment.epochs for r in given] == [1, 1]
    assert Experiment(model="mlp").epochs == 3  # no epochs given: the profile's


def test_fingerprint_draws_no_random_numbers_and_needs_no_memory():
    state = torch.get_rng_state()
    registry.fingerprint(tiny_bn_cnn)
    assert torch.equal(state, torch.get_rng_state())


def test_summary_follows_adaptive_pooling():
    rows = {r.name: r for r in summary.summarize(tiny_bn_cnn())}
    assert rows["3"].output_shape == (8, 4, 4)
    assert rows["3"].receptive_field == 9  # a 7x7 window (stride 7) of 3x3 fields
    glob = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))  # fmt: skip
    field = [r.receptive_field for r in summary.summarize(glob)]
    assert field[:4] == [3, 4, 8, 28]  # global pooling sees the whole image


def test_summary_columns_align_for_long_layer_kinds():
    lines = summary.format_table(summary.summarize(tiny_bn_cnn())).splitlines()
    rows = [line for line in lines if line[:1].isdigit()]
    ends = {
        line.index(kind) + len(kind)
        for line, kind in zip(
            rows, ["Conv2d", "BatchNorm2d", "ReLU", "AdaptiveAvgPool2d"], strict=False
        )
    }
    assert len({len(line) for line in [lines[0], *rows]}) == 1  # every row as wide as the header
    assert ends  # the kinds were found


def test_a_students_file_is_registered_under_its_name(tmp_path):
    (tmp_path / "alice.py").write_text(
        "from torch import nn\n\n\ndef build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n"
    )
    assert registry.from_file(tmp_path / "alice.py") == "alice"
    assert Experiment(model="alice", epochs=1).build()[1].out_features == 10
    (tmp_path / "bob.py").write_text("x = 1\n")
    with pytest.raises(ConfigError, match=r"bob.py: defines no function build\(\)"):
        registry.from_file(tmp_path / "bob.py")
    (tmp_path / "carol.py").write_text("raise ValueError('oops')\n")
    with pytest.raises(ConfigError, match="carol.py: running it failed: ValueError: oops"):
        registry.from_file(tmp_path / "carol.py")
