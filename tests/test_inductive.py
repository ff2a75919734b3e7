"""From dense to convolution, parameter counts, equivariance and feature maps, checked."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fmnist_edu import equivariance as eq
from fmnist_edu import features, inductive, models, training
from fmnist_edu.comparison import Comparison
from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment, summarize_seeds
from fmnist_edu.training import predict, to_inputs
from fmnist_edu.transforms import shift


def _images(n: int = 4, seed: int = 0) -> torch.Tensor:
    """Random inputs ``[n, 1, 12, 12]`` with ink up to the border (the hard case)."""
    return torch.rand(n, 1, 12, 12, generator=torch.Generator().manual_seed(seed))


# --- the derivation -----------------------------------------------------------------


def test_dense_layer_from_a_kernel_computes_the_convolution(subset):
    kernel = torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = subset.test.images[0].double() / 255  # [28, 28]
    weights = inductive.dense_from_kernel(kernel, 28)  # [28, 28, 28, 28]
    dense = torch.einsum("ijuv,uv->ij", weights, x)
    conv = F.conv2d(x[None, None], kernel[None, None], padding=1)[0, 0]
    assert torch.allclose(dense, conv, atol=1e-12)
    # Weight sharing and locality: the weight depends only on the offset, zero beyond r.
    assert weights[5, 7, 4, 8] == kernel[0, 2] and weights[20, 3, 19, 2] == kernel[0, 0]
    assert weights[5, 7, 5, 9] == 0 and (weights != 0).sum() == 9 * 28 * 28 - 4 * 3 * 28 + 4


def test_dense_from_kernel_needs_an_odd_square_kernel():
    with pytest.raises(ConfigError, match="odd"):
        inductive.dense_from_kernel(torch.ones(2, 2), 5)
    with pytest.raises(ConfigError, match="square"):
        inductive.dense_from_kernel(torch.ones(3, 1), 5)


# --- parameter counts -----------------------------------------------------------------


def _count(module: nn.Module) -> int:
    return models.count_parameters(module)


@pytest.mark.parametrize(("c_in", "c_out", "side", "k"), [(1, 4, 6, 3), (3, 2, 5, 5), (2, 2, 4, 1)])
def test_parameter_counts_match_the_layers(c_in, c_out, side, k):
    counts = inductive.layer_parameters(c_in, c_out, side, k)
    assert counts.dense == _count(nn.Linear(c_in * side * side, c_out * side * side))
    assert counts.locally_connected == _count(inductive.LocallyConnected2d(c_in, c_out, side, k))
    assert counts.convolution == _count(nn.Conv2d(c_in, c_out, k, padding=k // 2))
    assert counts.dense >= counts.locally_connected >= counts.convolution


def test_the_cnn_second_layer_counts():
    counts = inductive.layer_parameters(32, 64, 14, 3)
    assert counts.convolution == _count(models.CNN().features.conv2) == 18_496
    assert counts.dense == 6272 * 12544 + 12544


def test_a_convolution_is_a_locally_connected_layer_with_tied_weights():
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    x = torch.rand(2, 2, 7, 7)
    tied = inductive.LocallyConnected2d.from_conv(conv, side=7)
    assert torch.allclose(tied(x), conv(x), atol=1e-6)
    untied = inductive.LocallyConnected2d(2, 3, 7, 3)  # own kernel at every position
    assert untied(x).shape == (2, 3, 7, 7)
    with pytest.raises(ConfigError, match="stride 1"):
        inductive.LocallyConnected2d.from_conv(nn.Conv2d(1, 1, 3, stride=2, padding=1), 7)


# --- the sample-efficiency schedule -----------------------------------------------------


def test_scaled_epochs_keep_the_images_seen():
    assert inductive.scaled_epochs(3, 3252, 100) == 98
    assert inductive.scaled_epochs(10, 54_000, 100) == 5400
    assert inductive.scaled_epochs(3, 3252, 3252) == 3
    for size in (100, 250, 999, 2000):
        seen = inductive.scaled_epochs(3, 3252, size) * size
        assert 3 * 3252 <= seen < 3 * 3252 + size
    with pytest.raises(ConfigError):
        inductive.scaled_epochs(3, 100, 101)


def test_sample_efficiency_experiments_end_with_the_plain_run():
    runs = inductive.sample_efficiency_experiments("cnn", 1500, 3)
    assert [r.limit for r in runs] == [100, 250, 500, 1000, None]
    assert runs[-1] == Experiment(model="cnn", epochs=3)
    assert runs[0].epochs == 45 and all(r.model == "cnn" for r in runs)


def test_gradient_steps_count_the_training_loops_batches():
    # Counted on the loop itself: an augmentation that records each batch it is given.
    split = Split(torch.zeros(130, 28, 28, dtype=torch.uint8), torch.arange(130) % 10)
    batches: list[int] = []
    training.train(models.MLP(), split, epochs=2, batch_size=64, progress=False,
                   augment=lambda images, g: batches.append(len(images)) or images)  # fmt: skip
    assert batches == [64, 64, 2] * 2
    assert inductive.gradient_steps(130, 2, 64) == len(batches) == 6
    # The chapter's protocol: 100 images make 98 steps, the full 3,252 only 78 (25 % fewer).
    assert inductive.gradient_steps(100, inductive.scaled_epochs(3, 3252, 100), 128) == 98
    assert inductive.gradient_steps(3252, 3, 128) == 78
    with pytest.raises(ConfigError):
        inductive.gradient_steps(0, 3, 128)


def _comparison(difference: float, low: float, high: float, confidence: float = 0.95):
    seeds = summarize_seeds([0.8, 0.8])
    return Comparison(seeds, seeds, difference, low, high, 1770, 0.01, confidence)


def test_largest_lead_is_separated_only_when_its_interval_clears_all_others():
    overlapping = [_comparison(0.032, 0.015, 0.05), _comparison(0.018, 0.0, 0.036),
                   _comparison(0.021, 0.004, 0.038)]  # fmt: skip
    lead = inductive.largest_lead(overlapping)
    assert (lead.index, lead.runner_up, lead.separated) == (0, 2, False)
    clear = [_comparison(0.01, -0.005, 0.025), _comparison(0.08, 0.06, 0.1)]
    assert inductive.largest_lead(clear) == inductive.LargestLead(1, 0, True)
    with pytest.raises(ConfigError):
        inductive.largest_lead(clear[:1])


# --- equivariance -------------------------------------------------------------------


@pytest.mark.parametrize(("dy", "dx"), [(0, 1), (2, -3), (-1, 0), (4, 4)])
def test_convolution_commutes_with_shifts_in_the_interior(dy, dx):
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 5, 3, padding=1)
    gap = eq.equivariance_gap(conv, _images(), dy, dx)
    assert gap.interior < 1e-6 < gap.border  # ink at the border: the border differs
    assert gap.difference.shape == (4, 5, 12, 12) and gap.mask.shape == (12, 12)
    assert bool(gap.mask[5, 5]) and not bool(gap.mask[0, 0])


def test_interior_is_the_frame_less_the_kernel_radius_and_the_fill():
    mask = eq.interior_mask(10, 10, 3, 2, -1)
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    assert (int(rows[0]), int(rows[-1])) == (2, 8)  # r = 1, and rows 0-1 are zero fill
    assert (int(cols[0]), int(cols[-1])) == (1, 8)  # the fill is column 9
    assert int(mask.sum()) == 7 * 8


def test_equivariance_gap_refuses_strided_or_unpadded_convolutions():
    with pytest.raises(ConfigError):
        eq.equivariance_gap(nn.Conv2d(1, 1, 3, stride=2, padding=1), _images(), 1, 0)
    with pytest.raises(ConfigError):
        eq.equivariance_gap(nn.Conv2d(1, 1, 3), _images(), 1, 0)


def test_relative_change_is_zero_for_invariant_features_and_not_for_the_identity():
    images = torch.zeros(3, 1, 12, 12)
    images[:, :, 3:9, 4:8] = torch.rand(3, 1, 6, 4)  # background around the object
    total = eq.relative_change(lambda x: x.sum((1, 2, 3))[:, None], images)
    assert total.shape == (4, 3) and float(total.max()) < 1e-6
    identity = eq.relative_change(lambda x: x, images)
    assert float(identity.min()) > 0.1


class _Mass(nn.Module):
    """Classifies by the total ink: invariant to shifts that lose no ink."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(1, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean((1, 2, 3))[:, None] * 10)


def _split(n: int = 20) -> Split:
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 8:20] = torch.randint(0, 256, (n, 12, 12), dtype=torch.uint8)
    return Split(images, torch.arange(n) % 10)


def test_shift_predictions_and_prediction_changes():
    torch.manual_seed(0)
    split, mass, cnn = _split(), _Mass(), models.CNN().eval()
    offsets = eq.axis_offsets("vertical", (-2, 0, 3))
    assert offsets == [(-2, 0), (0, 0), (3, 0)]
    preds = eq.shift_predictions([mass, cnn], split, offsets)
    assert preds.shape == (3, 2, 20) and preds.dtype == torch.long
    assert torch.equal(preds[1, 1], predict(cnn, split))
    assert torch.equal(preds[2, 1], predict(cnn, eq.shifted(split, 3, 0)))
    assert eq.prediction_changes(mass, split, 1, -2) == 0.0
    assert torch.equal(eq.shifted(split, 0, 2).images, shift(split.images, 0, 2))
    with pytest.raises(ConfigError):
        eq.axis_offsets("diagonal")


# --- features -------------------------------------------------------------------------


def test_capture_returns_layer_outputs_and_leaves_the_model_as_it_was(subset):
    torch.manual_seed(0)
    cnn = models.CNN().train()
    images = subset.test.images[:5]
    out = features.capture(cnn, images, ["features.conv1", "features.pool2"])
    assert out["features.conv1"].shape == (5, 32, 28, 28)
    assert out["features.pool2"].shape == (5, 64, 7, 7)
    assert cnn.training and not any(m._forward_hooks for m in cnn.modules())
    again = features.capture(cnn, to_inputs(images), ["features.conv1"])["features.conv1"]
    assert torch.allclose(again, out["features.conv1"])
    assert torch.allclose(out["features.conv1"], cnn.features.conv1(to_inputs(images)), atol=1e-6)
    with pytest.raises(ConfigError, match="no layer named features.conv9"):
        features.capture(cnn, images, ["features.conv9"])


def test_conv_responses_and_their_means(subset):
    torch.manual_seed(0)
    cnn = models.CNN()
    split = Split(subset.test.images[:10], subset.test.labels[:10])
    responses = features.conv_responses(cnn, split.images)
    assert list(responses) == ["features.conv1", "features.conv2"] == features.conv_layers(cnn)
    assert responses["features.conv2"].shape == (10, 64, 14, 14)
    assert all(float(r.min()) >= 0 for r in responses.values())
    means = features.mean_responses(cnn, split, batch_size=3)
    assert torch.allclose(means["features.conv1"], responses["features.conv1"].mean((2, 3)))


def test_filter_balance_tells_edge_filters_from_blurs():
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    weights = torch.stack([sobel, torch.ones(3, 3), -torch.ones(3, 3)])[:, None]
    assert features.filter_balance(weights).tolist() == [0.0, 1.0, 1.0]


def test_class_selectivity_is_one_for_a_single_class_and_zero_for_all():
    labels = torch.arange(40) % 10
    one_class = (labels == 3).float()  # responds to class 3 only
    uniform = torch.ones(40)
    selectivity = features.class_selectivity(torch.stack([one_class, uniform], 1), labels)
    assert selectivity.tolist() == pytest.approx([1.0, 0.0])
    with pytest.raises(ConfigError):
        features.class_selectivity(torch.ones(5, 2), labels)


def test_ink_and_edges_and_response_correlations():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 8:20] = 255  # a flat square of ink
    ink, edges = features.ink_and_edges(images)
    assert float(ink[0, 10, 10]) == 1.0 and float(edges[0, 14, 14]) == 0.0  # flat inside
    assert float(edges[0, 14, 8]) == pytest.approx(1.0)  # a 0-to-1 step gives 1
    # Channel 0 copies the ink, channel 1 the edges, channel 2 their pooled copy of the ink.
    responses = torch.stack([ink, edges], 1)
    on_ink, on_edges = features.response_correlations(responses, images)
    assert on_ink[0] == pytest.approx(1.0) and on_edges[1] == pytest.approx(1.0)
    pooled = F.avg_pool2d(ink[:, None], 2)  # [2, 1, 14, 14]
    on_ink, _ = features.response_correlations(pooled, images)
    assert on_ink[0] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="do not tile"):
        features.response_correlations(torch.rand(2, 1, 5, 5), images)
