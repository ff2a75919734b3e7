"""Sanity checks: rank correlations, the randomisation cascade and the verdicts."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import spearmanr

from fmnist_edu import interpret, models
from fmnist_edu.errors import ConfigError


def test_rank_correlation_is_spearman_of_absolute_values_with_ties():
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(3, 28, 28, generator=generator)
    b = a + 0.5 * torch.randn(3, 28, 28, generator=generator)
    a[:, :10] = 0  # ties, as on the background of Integrated Gradients
    b[:, :8] = 0
    got = interpret.rank_correlation(a, b)
    for i in range(3):
        expected = spearmanr(a[i].abs().flatten(), b[i].abs().flatten()).statistic
        assert float(got[i]) == pytest.approx(expected, abs=1e-6)
    assert torch.allclose(interpret.rank_correlation(a, -a), torch.ones(3))  # signs ignored


def test_rank_correlation_of_opposite_rankings_and_constant_maps():
    ramp = torch.arange(1.0, 785.0).reshape(1, 28, 28)
    assert float(interpret.rank_correlation(ramp, 785 - ramp)) == pytest.approx(-1)
    assert float(interpret.rank_correlation(ramp, torch.zeros_like(ramp))) == 0.0


def test_rank_correlation_within_a_mask_uses_only_its_pixels():
    generator = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 28, 28, generator=generator), torch.rand(2, 28, 28, generator=generator)
    mask = torch.zeros(2, 28, 28, dtype=torch.bool)
    mask[:, 5:20, 5:20] = True
    b[mask] = a[mask] * 2  # the same ranking inside the mask, unrelated outside
    assert torch.allclose(interpret.rank_correlation(a, b, within=mask), torch.ones(2))
    assert bool((interpret.rank_correlation(a, b) < 0.9).all())
    with pytest.raises(ConfigError, match="within"):
        interpret.rank_correlation(a, b, within=mask[:1])
    with pytest.raises(ConfigError, match="two"):
        interpret.rank_correlation(a, b[:1])


def test_layers_are_randomised_from_the_output_down():
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    order = ["classifier.fc2", "classifier.fc1", "features.conv2", "features.conv1"]
    assert interpret.weighted_layers(cnn) == order
    original = {k: v.clone() for k, v in cnn.state_dict().items()}
    names, final = [], {}
    for name, model in interpret.randomised_cascade(cnn, seed=0):  # checked at each step
        names.append(name)
        if name == "original":
            assert model is cnn
            continue
        changed = {k.rsplit(".", 1)[0] for k, v in model.state_dict().items()
                   if not torch.equal(v, original[k])}  # fmt: skip
        assert changed == set(order[: order.index(name) + 1])
        assert not model.training
        final = {k: v.clone() for k, v in model.state_dict().items()}
    assert names == ["original", *order]
    assert all(torch.equal(v, original[k]) for k, v in cnn.state_dict().items())  # untouched
    *_, (_, again) = interpret.randomised_cascade(cnn, seed=0)
    assert all(torch.equal(final[k], v) for k, v in again.state_dict().items())  # seeded


def test_cascade_correlations_start_at_one_and_gradients_move(subset):
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    images, labels = subset.test.images[:3], subset.test.labels[:3]
    result = interpret.cascading_randomisation(cnn, images, labels, ["saliency", "deeplift"])
    assert result.steps[0] == "original" and len(result.steps) == 5
    assert result.maps["saliency"].shape == (5, 3, 28, 28)
    assert torch.allclose(result.correlation["deeplift"][0], torch.ones(3))
    assert bool((result.correlation["saliency"][-1] < 0.9).all())
    same = interpret.map_similarity({m: v[0] for m, v in result.maps.items()}, cnn, images, labels)
    assert torch.allclose(same["saliency"], torch.ones(3))


def test_verdicts_pass_fail_or_unclear():
    low = torch.full((3, 8), 0.1) + 0.01 * torch.arange(8)
    high = torch.full((3, 8), 0.9) - 0.01 * torch.arange(8)
    spread = torch.tensor([[0.0, 1.0] * 4] * 3)
    assert interpret.verdict(low).outcome == "pass"
    assert interpret.verdict(high).outcome == "fail"
    assert interpret.verdict(spread).outcome == "unclear"
    v = interpret.verdict(low)
    assert v.low <= v.mean <= v.high and v.mean == pytest.approx(float(low.mean()))


def test_methods_are_judged_layer_by_layer_not_by_their_last_value():
    steps = ["original", "fc2", "fc1", "conv2", "conv1"]
    # Like Guided Backprop in Adebayo et al.: unmoved by the top layers, random at the end.
    top_blind = torch.tensor([1.0, 0.84, 0.70, 0.2, 0.1])[None, :, None].repeat(3, 1, 8)
    top_blind += 0.01 * torch.arange(8)  # some spread over images
    at_once = torch.tensor([1.0, 0.2, 0.1, 0.1, 0.05])[None, :, None].repeat(3, 1, 8)
    blind = interpret.step_verdicts(top_blind, steps)
    assert list(blind) == steps[1:]
    assert [v.outcome for v in blind.values()] == ["fail", "fail", "pass", "pass"]
    assert interpret.first_pass(blind) == "conv2"
    assert interpret.first_pass(interpret.step_verdicts(at_once, steps)) == "fc2"
    never = interpret.step_verdicts(torch.full((3, 5, 8), 0.9), steps)
    assert interpret.first_pass(never) is None
    back = top_blind.clone()
    back[:, -1] = 0.9  # passes in the middle, then fails again: not a pass from conv2 on
    assert interpret.first_pass(interpret.step_verdicts(back, steps)) is None
    assert blind["fc2"].confidence == 0.95
    with pytest.raises(ConfigError, match="5 steps"):
        interpret.step_verdicts(top_blind[:, :4], steps)
