"""Architectures: the original designs' sizes, shapes, MACs and receptive fields."""

from __future__ import annotations

import pytest
import torch

from fmnist_edu import models, summary
from fmnist_edu.errors import ConfigError


def by_name(rows):
    return {r.name: r for r in rows}


def test_original_parameter_counts():
    assert models.count_parameters(models.MLP()) == 109_386
    assert models.count_parameters(models.CNN()) == 421_642


@pytest.mark.parametrize("k", [3, 5, 7])
def test_kernel_size_parameter_counts_follow_the_formula(k):
    # conv1: k*k*1*32 + 32; conv2: k*k*32*64 + 64; head unchanged with "same" padding.
    expected = (k * k * 32 + 32) + (k * k * 32 * 64 + 64) + (3136 * 128 + 128) + (128 * 10 + 10)
    assert models.count_parameters(models.CNN(kernel_size=k)) == expected


def test_seed_figures_for_large_kernels_are_wrong():
    # The original study claimed ~980K (5x5) and ~1.8M (7x7) parameters.
    assert models.count_parameters(models.CNN(kernel_size=5)) == 454_922
    assert models.count_parameters(models.CNN(kernel_size=7)) == 504_842


def test_summary_of_default_cnn():
    rows = by_name(summary.summarize(models.CNN()))
    assert rows["features.conv1"].output_shape == (32, 28, 28)
    assert rows["features.pool2"].output_shape == (64, 7, 7)
    assert rows["classifier.flatten"].output_shape == (3136,)
    assert rows["features.conv1"].macs == 28 * 28 * 32 * 9
    assert rows["features.conv2"].macs == 14 * 14 * 64 * 32 * 9
    assert rows["classifier.fc1"].parameters == 401_536
    assert sum(r.parameters for r in rows.values()) == 421_642


def test_receptive_field_arithmetic():
    rows = by_name(summary.summarize(models.CNN()))
    # 3x3 conv: 3; 2x2 pool: 3 + 1*1 = 4, jump 2; 3x3 conv: 4 + 2*2 = 8; pool: 8 + 1*2 = 10.
    names = ("features.conv1", "features.pool1", "features.conv2", "features.pool2")
    assert [rows[n].receptive_field for n in names] == [3, 4, 8, 10]
    rows = by_name(summary.summarize(models.CNN(kernel_size=5, stride=2)))
    # 5: 5, jump 2; pool: 5 + 1*2 = 7, jump 4; 5x5: 7 + 4*4 = 23, jump 8; pool: 23 + 8 = 31 -> 28.
    assert rows["features.conv1"].receptive_field == 5
    assert rows["features.pool1"].receptive_field == 7
    assert rows["features.conv2"].receptive_field == 23
    assert rows["features.pool2"].receptive_field == 28
    assert all(r.receptive_field == 28 for r in summary.summarize(models.MLP()))


@pytest.mark.parametrize(
    "options, side",
    [({}, 7), ({"padding": "valid"}, 5), ({"depth": 3}, 3), ({"stride": 2}, 2), ({"depth": 1}, 14)],
)
def test_cnn_shapes(options, side):
    model = models.CNN(**options)
    rows = summary.summarize(model)
    last_pool = [r for r in rows if r.kind == "MaxPool2d"][-1]
    assert last_pool.output_shape[1:] == (side, side)
    assert model(torch.zeros(4, 1, 28, 28)).shape == (4, 10)


def test_pool_then_relu_equals_relu_then_pool():
    x = torch.randn(8, 16, 14, 14)
    pool, relu = torch.nn.MaxPool2d(2), torch.nn.ReLU()
    assert torch.equal(relu(pool(x)), pool(relu(x)))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"padding": "valid", "kernel_size": 7, "depth": 3}, "block 3 shrinks"),
        ({"kernel_size": 4}, "'same' padding needs an odd kernel"),
        ({"padding": "full"}, "choose 'same' or 'valid'"),
        ({"depth": 0}, "at least one conv block"),
        ({"depth": 2, "widths": (8,)}, "one width per block"),
        ({"depth": 5}, "at most 4 times"),
        ({"hidden": 0}, "positive integer"),
    ],
)
def test_impossible_configurations_are_explained(options, message):
    with pytest.raises(ConfigError, match=message):
        models.CNN(**options)


@pytest.mark.parametrize("hidden", [(512, 256), (32,), (64, 64, 64)])
def test_mlp_hidden_widths_follow_the_formula(hidden):
    widths = (28 * 28, *hidden, 10)
    expected = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    assert models.count_parameters(models.build_model("mlp", hidden=hidden)) == expected
    assert models.build_model("mlp", hidden=hidden)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_cnn_hidden_width_changes_only_the_head():
    wide, default = models.CNN(hidden=256), models.CNN()
    extra = (3136 + 10) * (256 - 128) + (256 - 128)  # fc1 gains columns, fc2 gains rows
    assert models.count_parameters(wide) - models.count_parameters(default) == extra


@pytest.mark.parametrize("hidden", [(0,), (128, -1), (1.5,)])
def test_mlp_rejects_widths_that_are_not_positive_integers(hidden):
    with pytest.raises(ConfigError, match="positive integer"):
        models.MLP(hidden=hidden)


def test_build_model_rejects_unknown_names_and_options():
    with pytest.raises(ConfigError, match="not a known model"):
        models.build_model("resnet")
    with pytest.raises(ConfigError, match="takes no CNN options"):
        models.build_model("mlp", kernel_size=5)


def test_fusion_runs_only_in_training_and_never_past_a_hook(monkeypatch):
    model = models.CNN()
    shapes = []
    relu = torch.nn.functional.relu
    monkeypatch.setattr(
        torch.nn.functional, "relu", lambda x, inplace=False: shapes.append(x.shape) or relu(x)
    )
    x = torch.rand(2, 1, 28, 28)
    model(x)  # training: each ReLU runs on its pooled maps
    assert shapes[:2] == [(2, 32, 14, 14), (2, 64, 7, 7)]
    shapes.clear()
    handle = model.features.relu1.register_forward_hook(lambda m, i, o: None)
    model(x)  # a hooked ReLU runs as itself, before its pool; the other pair stays fused
    assert shapes[:2] == [(2, 32, 28, 28), (2, 64, 7, 7)]
    handle.remove()
    shapes.clear()
    model.eval()
    with torch.no_grad():
        expected = model(x)  # evaluation: the modules in their stored order
        assert shapes[:2] == [(2, 32, 28, 28), (2, 64, 14, 14)]
        assert torch.equal(model.classifier(models.fused_features(model.features, x)), expected)
    names = [name for name, _ in model.features.named_children()]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
