"""Deletion curves, their areas, and Captum's infidelity and sensitivity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fmnist_edu import interpret, models
from fmnist_edu.errors import ConfigError


class Linear(nn.Module):
    """A linear classifier: its exact explanation is known."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(weight)

    def forward(self, x):
        return self.fc(x.flatten(1))


@pytest.fixture(scope="module")
def linear() -> Linear:
    return Linear(torch.randn(10, 784, generator=torch.Generator().manual_seed(0))).eval()


def test_deletion_order_ranks_the_largest_values_first_and_breaks_ties_by_seed():
    maps = torch.zeros(1, 28, 28)
    maps[0, 0, :3] = torch.tensor([1.0, 3.0, 2.0])
    order = interpret.deletion_order(maps, seed=0)
    assert order[0, :3].tolist() == [1, 2, 0]
    assert sorted(order[0].tolist()) == list(range(784))
    assert torch.equal(order, interpret.deletion_order(maps, seed=0))
    assert not torch.equal(order[0, 3:], interpret.deletion_order(maps, seed=1)[0, 3:])


class Count(nn.Module):
    """Logit 0 counts the pixels still on (in hundreds); the other logits stay at 0."""

    def forward(self, x):
        on = (x.flatten(1) > 0).float().sum(1, keepdim=True)
        return torch.cat([on, torch.zeros(len(x), 9)], dim=1) / 100


def test_deletion_curve_deletes_the_stated_share_of_pixels():
    images = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    order = interpret.random_order(2, seed=0)
    curve = interpret.deletion_curve(Count(), images, torch.zeros(2, dtype=torch.long), order,
                                     fractions=[0.0, 0.5, 1.0])  # fmt: skip
    on = torch.tensor([784.0, 392.0, 0.0]) / 100
    expected = on.exp() / (on.exp() + 9)
    assert torch.allclose(curve, expected.expand(2, 3))
    with pytest.raises(ConfigError, match="fractions"):
        interpret.deletion_curve(Count(), images, torch.zeros(2, dtype=torch.long), order, [1.5])


def test_within_a_mask_its_pixels_go_first_in_the_maps_order():
    maps = torch.zeros(1, 28, 28)
    maps[0, 0, :3] = torch.tensor([1.0, 3.0, 2.0])
    maps[0, 1, 0] = 5.0  # the largest value, but outside the mask
    within = torch.zeros(1, 28, 28, dtype=torch.bool)
    within[0, 0, :3] = True
    within[0, 2, :2] = True
    order = interpret.deletion_order(maps, seed=0, within=within)
    assert order[0, :3].tolist() == [1, 2, 0] and set(order[0, 3:5].tolist()) == {56, 57}
    assert sorted(order[0].tolist()) == list(range(784))
    assert int(order[0, 5]) == 28  # then the rest, in the map's order
    inside = within.flatten(1).gather(1, interpret.random_order(1, within=within))
    assert bool(inside[0, :5].all()) and not bool(inside[0, 5:].any())


def test_background_pixels_cost_a_map_nothing_when_deleting_within_the_garment():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 8:20] = 200  # a square garment on an empty background
    target = torch.zeros(4, dtype=torch.long)
    background_first = {"background": (images == 0).float()}  # the garment all tied at 0
    _, whole = interpret.deletion_areas(Count(), images, target, background_first)
    # Over all 784 pixels, deleting zeros first changes nothing: it looks unfaithful.
    assert float(whole["background"].mean()) > float(whole[interpret.RANDOM].mean()) + 0.05
    curves, garment = interpret.deletion_areas(
        Count(), images, target, background_first, within=images > 0
    )
    # Among the garment's pixels both orders are random: the same curve, the same area.
    torch.testing.assert_close(curves["background"], curves[interpret.RANDOM])
    on = curves[interpret.RANDOM][0, [0, -1]]
    expected = torch.tensor([144.0, 0.0]) / 100
    torch.testing.assert_close(on, expected.exp() / (expected.exp() + 9))


def test_curve_area_is_the_trapezoid_rule():
    curve = torch.tensor([[1.0, 0.5, 0.0], [0.5, 0.5, 0.5]])
    areas = interpret.curve_area(curve, [0.0, 0.5, 1.0])
    assert torch.allclose(areas, torch.tensor([0.5, 0.5]))


def test_an_exact_explanation_deletes_faster_than_random(linear, subset):
    images, labels = subset.test.images[:16], subset.test.labels[:16]
    maps = interpret.attribute_all(linear, images, ["integrated-gradients"], labels)
    curves, areas = interpret.deletion_areas(linear, images, labels, maps)
    assert set(curves) == {"integrated-gradients", interpret.RANDOM}
    assert curves["integrated-gradients"].shape == (16, len(interpret.FRACTIONS))
    assert float(areas["integrated-gradients"].mean()) < float(areas[interpret.RANDOM].mean())
    blank = curves[interpret.RANDOM][:, -1]  # everything deleted: the same blank image
    torch.testing.assert_close(blank, curves["integrated-gradients"][:, -1])


def test_infidelity_is_near_zero_for_the_exact_linear_explanation(linear, subset):
    images, labels = subset.test.images[:8], subset.test.labels[:8]
    exact = linear.fc.weight[labels].reshape(8, 28, 28).detach()  # the gradient: f is linear
    noise = torch.randn(8, 28, 28, generator=torch.Generator().manual_seed(3))
    good = interpret.infidelity(linear, images, labels, exact)
    bad = interpret.infidelity(linear, images, labels, noise)
    assert good.shape == (8,) and float(good.max()) < 1e-6 < float(bad.min())
    assert torch.equal(good, interpret.infidelity(linear, images, labels, exact))  # seeded


def test_sensitivity_is_zero_where_the_map_cannot_move(linear, subset):
    images, labels = subset.test.images[:4], subset.test.labels[:4]
    flat = interpret.sensitivity(linear, images, labels, "saliency")  # |w|: constant
    assert flat.shape == (4,) and float(flat.max()) < 1e-6
    torch.manual_seed(0)
    cnn = models.CNN().eval()
    moving = interpret.sensitivity(cnn, images, labels, "saliency")
    assert float(moving.min()) > 0
    assert torch.equal(moving, interpret.sensitivity(cnn, images, labels, "saliency"))
