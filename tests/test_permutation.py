"""The pixel permutation: the transform, the MLP's relabelling, and the Experiment field."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fmnist_edu import data, experiments, models, permutation
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment


def _small(dataset: data.FashionMNIST, n_train: int = 300, n_test: int = 200) -> data.FashionMNIST:
    return dataclasses.replace(
        dataset,
        train=data.Split(dataset.train.images[:n_train], dataset.train.labels[:n_train]),
        test=data.Split(dataset.test.images[:n_test], dataset.test.labels[:n_test]),
        fingerprint=f"{dataset.fingerprint}-first{n_train}-{n_test}",
    )


def test_the_permutation_is_seeded_and_a_permutation():
    a, b = permutation.pixel_permutation(3), permutation.pixel_permutation(3)
    assert torch.equal(a, b)
    assert torch.equal(a.sort().values, torch.arange(784))
    assert not torch.equal(a, permutation.pixel_permutation(4))
    assert not torch.equal(a, torch.arange(784))


def test_permute_pixels_moves_values_not_content():
    images = torch.arange(2 * 784, dtype=torch.int64).reshape(2, 28, 28)
    order = permutation.pixel_permutation(0)
    out = permutation.permute_pixels(images, order)
    assert out.shape == images.shape and out.dtype == images.dtype
    flat, flat_out = images.reshape(2, -1), out.reshape(2, -1)
    assert torch.equal(flat_out[:, 5], flat[:, order[5]])
    assert torch.equal(flat_out.sort(1).values, flat.sort(1).values)  # same values per image
    inverse = torch.argsort(order)
    assert torch.equal(permutation.permute_pixels(out, inverse), images)


def test_permute_pixels_refuses_a_non_permutation():
    with pytest.raises(ConfigError, match="permutation of 784"):
        permutation.permute_pixels(torch.zeros(1, 28, 28), torch.zeros(784, dtype=torch.long))
    with pytest.raises(ConfigError, match="whole number"):
        permutation.pixel_permutation(1.5)


def test_a_relabelled_mlp_computes_the_same_function_on_permuted_images():
    torch.manual_seed(0)
    mlp = models.MLP().eval()
    x = torch.rand(16, 1, 28, 28)
    before = mlp(x)
    order = permutation.pixel_permutation(7)
    permutation.relabel_first_layer(mlp, order)
    after = mlp(permutation.permute_pixels(x, order))
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5)
    assert not torch.allclose(mlp(x), before, atol=1e-3)  # unpermuted images now differ


def test_only_a_model_reading_flat_pixels_can_be_relabelled():
    with pytest.raises(ConfigError, match="3136 inputs"):
        permutation.relabel_first_layer(models.CNN(), permutation.pixel_permutation(0))
    with pytest.raises(ConfigError, match="no dense layer"):
        permutation.relabel_first_layer(torch.nn.Conv2d(1, 1, 3), permutation.pixel_permutation(0))


def test_the_permutation_is_part_of_the_experiment_key():
    plain, permuted = Experiment(model="cnn"), Experiment(model="cnn", permute=1)
    assert "permute" not in plain.config() and "relabel" not in plain.config()
    assert permuted.config()["permute"] == 1
    assert Experiment(model="cnn", permute=2).config() != permuted.config()
    assert Experiment(model="mlp", permute=1, relabel=True).config()["relabel"] is True
    assert permuted.label() == "cnn k3 d2 s1 same permuted 1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"permute": -1}, "permute=-1"),
        ({"permute": "yes"}, "whole number"),
        ({"permute": 1, "augment": "shift"}, "choose one of the two"),
        ({"relabel": True}, "only the MLP"),
        ({"relabel": True, "permute": 1, "model": "cnn"}, "only the MLP"),
        ({"relabel": 1, "permute": 1, "model": "mlp"}, "True or False"),
    ],
)
def test_bad_permutation_fields_are_clear_errors(fields, message):
    with pytest.raises(ConfigError, match=message):
        Experiment(**fields)


def test_permuted_runs_train_and_test_on_permuted_pixels(subset, store):
    small = _small(subset)
    experiment = Experiment(model="mlp", epochs=1, permute=5, limit=200)
    train, val = experiments.prepare_splits(experiment, small)
    plain_train, plain_val = experiments.prepare_splits(Experiment(model="mlp", limit=200), small)
    order = permutation.pixel_permutation(5)
    assert torch.equal(train.images, permutation.permute_pixels(plain_train.images, order))
    assert torch.equal(val.labels, plain_val.labels)
    test = experiments.evaluation_split(experiment, small)
    assert torch.equal(test.images, permutation.permute_pixels(small.test.images, order))
    result = experiments.run(experiment, small, store, progress=False)
    again = experiments.run(experiment, small, store, progress=False)
    assert again.from_store and again.test == result.test
    # The stored accuracy is the accuracy on the permuted test images.
    predicted = result.model()(torch.as_tensor(test.images).unsqueeze(1).float() / 255).argmax(1)
    assert float((predicted == test.labels).float().mean()) == pytest.approx(result.test.accuracy)


def test_the_relabelled_mlp_agrees_with_the_unpermuted_run(subset, store):
    small = _small(subset)
    plain = experiments.run(Experiment(model="mlp", epochs=2, limit=200), small, store)
    twin = experiments.run(
        Experiment(model="mlp", epochs=2, limit=200, permute=9, relabel=True), small, store
    )
    fresh = experiments.run(Experiment(model="mlp", epochs=2, limit=200, permute=9), small, store)
    order = permutation.pixel_permutation(9)
    relabelled = permutation.relabel_first_layer(plain.model(), order).state_dict()
    for name, weights in twin.state_dict.items():
        torch.testing.assert_close(weights, relabelled[name], rtol=0, atol=1e-4)
    assert twin.test.confusion == plain.test.confusion
    # Without the relabelled start the permuted MLP is another model (another draw).
    assert not torch.allclose(fresh.state_dict["fc1.weight"], twin.state_dict["fc1.weight"])


def test_the_cli_trains_and_evaluates_permuted_runs(subset_dir, tmp_path, monkeypatch, capsys):
    from fmnist_edu.cli import main

    monkeypatch.setenv("FMNIST_EDU_CACHE", str(tmp_path / "cache"))
    args = ["--model", "mlp", "--epochs", "1", "--limit", "200", "--data-dir", str(subset_dir)]
    assert main(["train", *args, "--permute", "3", "--relabel"]) == 0
    assert "mlp permuted 3 relabelled" in capsys.readouterr().out
    assert main(["evaluate", *args, "--permute", "3", "--relabel"]) == 0
    assert main(["evaluate", *args, "--permute", "3"]) == 1  # another experiment: not trained
    assert main(["train", *args[2:], "--model", "cnn", "--relabel"]) == 1
    err = capsys.readouterr().err
    assert "only the MLP" in err and "Traceback" not in err
