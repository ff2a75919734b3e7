"""The CNN built from data: stacked small kernels, stride-2 downsampling, and their fields."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fmnist_edu import models, summary
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment


def by_name(rows):
    return {r.name: r for r in rows}


def conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


HEAD = (3136 * 128 + 128) + (128 * 10 + 10)


@pytest.mark.parametrize("n, k", [(2, 5), (3, 7)])
def test_stacked_3x3_see_what_one_large_kernel_sees(n, k):
    stacked, large = models.CNN(convs_per_block=n), models.CNN(kernel_size=k)
    block1 = conv_params(3, 1, 32) + (n - 1) * conv_params(3, 32, 32)
    block2 = conv_params(3, 32, 64) + (n - 1) * conv_params(3, 64, 64)
    assert models.count_parameters(stacked) == block1 + block2 + HEAD
    rows, big = by_name(summary.summarize(stacked)), by_name(summary.summarize(large))
    # Same receptive field after each block, same output shape.
    for block in ("pool1", "pool2"):
        name = f"features.{block}"
        assert rows[name].receptive_field == big[name].receptive_field
        assert rows[name].output_shape == big[name].output_shape
    assert rows[f"features.conv1_{n}"].output_shape == (32, 28, 28)
    assert f"features.conv1_{n + 1}" not in rows


def test_stacked_layers_are_named_like_vgg_and_ordered():
    names = [n for n, _ in models.CNN(convs_per_block=2).features.named_children()]
    assert names == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
                     "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2"]  # fmt: skip
    # One conv per block keeps the names other chapters and stored weights use.
    assert [n for n, _ in models.CNN().features.named_children()][:3] == ["conv1", "relu1", "pool1"]


def test_stride_downsampling_keeps_parameters_and_cuts_macs_by_four():
    pooled, strided = models.CNN(), models.CNN(downsample="stride")
    assert models.count_parameters(strided) == models.count_parameters(pooled) == 421_642
    rows = by_name(summary.summarize(strided))
    assert "features.pool1" not in rows
    assert rows["features.conv1"].output_shape == (32, 14, 14)
    assert rows["features.conv2"].output_shape == (64, 7, 7)
    assert rows["features.conv2"].macs == 7 * 7 * 64 * 32 * 9
    assert strided(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_the_architecture_is_data():
    blocks = models.vgg_blocks(kernel_size=5, convs_per_block=2, downsample="stride")
    assert blocks[0] == models.Block(
        (models.Conv(32, 5, 1, 2), models.Conv(32, 5, 2, 2)), pool=False
    )
    a = models.CNN(kernel_size=5, convs_per_block=2, downsample="stride")
    b = models.CNN(blocks=blocks)
    assert {k: v.shape for k, v in a.state_dict().items()} == {
        k: v.shape for k, v in b.state_dict().items()
    }
    custom = models.CNN(blocks=[models.Block((models.Conv(8, 3, 1, 1),)),
                                models.Block((models.Conv(16, 1, 1, 0),), pool=False)])  # fmt: skip
    assert custom.classifier.fc1.in_features == 16 * 14 * 14


@pytest.mark.parametrize(
    "options, message",
    [
        ({"downsample": "avg"}, "choose 'pool' or 'stride'"),
        ({"downsample": "stride", "stride": 2}, "leave stride=1"),
        ({"convs_per_block": 0}, "needs a convolution"),
        ({"padding": "valid", "kernel_size": 7, "convs_per_block": 3, "depth": 2}, "block 2"),
        ({"blocks": [], "kernel_size": 5}, "give no other design option"),
        ({"blocks": []}, "at least one conv block"),
    ],
)
def test_impossible_designs_are_explained(options, message):
    with pytest.raises(ConfigError, match=message):
        models.CNN(**options)


def test_new_fields_are_part_of_the_key_only_when_set():
    default = Experiment()
    assert "convs_per_block" not in default.config() and "downsample" not in default.config()
    for change in ({"convs_per_block": 2}, {"downsample": "stride"}):
        other = dataclasses.replace(default, **change)
        assert other.config() == default.config() | change
    mlp = Experiment(model="mlp")
    assert dataclasses.replace(mlp, convs_per_block=3).config() == mlp.config()
    assert Experiment(convs_per_block=3, downsample="stride").label() == (
        "cnn k3 d2 s1 same x3 stride-down"
    )
    assert Experiment(convs_per_block=2).build().features.conv2_2.in_channels == 64


@pytest.mark.parametrize(
    "options, message",
    [
        ({"convs_per_block": 5}, "convs_per_block=5: must be between 1 and 4"),
        ({"convs_per_block": 1.5}, "convs_per_block=1.5: must be a whole number"),
        ({"downsample": "max"}, "downsample='max': choose 'pool' or 'stride'"),
        ({"downsample": "stride", "stride": 2}, "leave stride=1"),
    ],
)
def test_experiment_checks_the_new_fields(options, message):
    with pytest.raises(ConfigError, match=message):
        Experiment(**options)
