"""Faithfulness: does removing what a map calls important hurt the model the most?

A *deletion curve* :cite:`petsiuk2018rise,samek2017evaluating` sets the pixels to the
background value (0) in the order a map ranks them, most important first, and records the
model's probability for the true class after each fraction. A faithful map makes the
probability fall fast, so the area under its curve (:func:`curve_area`) is small; a random
order is the reference every method should beat. Since the background is 0 already,
deleting a background pixel changes nothing, and a map that ranks background pixels high
loses for free; ``within=images > 0`` deletes among the garment's pixels only, the control
for it.

Captum's own metrics complement it: ``infidelity`` :cite:`yeh2019fidelity` (how well the
map predicts the effect of small random perturbations; lower is better) and
``sensitivity_max`` (how much the map itself changes under tiny input noise; lower is
more stable). :func:`infidelity` and :func:`sensitivity` run them with seeded noise.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from fmnist_edu.errors import ConfigError
from fmnist_edu.interpret.methods import BASELINE, as_inputs, attribute

with warnings.catch_warnings():  # tqdm.auto's notice in a notebook without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    from captum.metrics import infidelity as captum_infidelity
    from captum.metrics import sensitivity_max

#: Fractions of the 784 pixels deleted: fine steps first, where the curves differ.
FRACTIONS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
RANDOM = "random"


def _inside_first(order: torch.Tensor, within: torch.Tensor | None) -> torch.Tensor:
    """Reorder each row of ``order`` so the pixels ``within`` holds come first (stably)."""
    if within is None:
        return order
    inside = torch.as_tensor(within).reshape(len(order), -1).bool()
    if inside.shape != order.shape:
        raise ConfigError(f"within: expected one mask per map, {tuple(order.shape)} pixels")
    outside_sorted = (~inside.gather(1, order)).to(torch.uint8)
    return order.gather(1, outside_sorted.argsort(dim=1, stable=True))


def deletion_order(
    maps: torch.Tensor, seed: int = 0, within: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixel indices ``[B, 784]`` from the highest attribution to the lowest.

    Signed maps are ranked by value, so evidence *for* the class goes first. Ties (e.g.
    the exact zeros of the background) are broken in a random order seeded by ``seed``.
    With ``within`` (a boolean mask per map, e.g. ``images > 0``, the garment), its
    pixels come first, in the map's order, and the others after them.
    """
    flat = maps.reshape(len(maps), -1)
    shuffle = torch.randperm(flat.shape[1], generator=torch.Generator().manual_seed(seed))
    order = flat[:, shuffle].argsort(dim=1, descending=True, stable=True)
    return _inside_first(shuffle[order], within)


def random_order(
    n: int, seed: int = 0, pixels: int = 784, within: torch.Tensor | None = None
) -> torch.Tensor:
    """A random deletion order per image, ``[n, pixels]``: the reference curve.

    With ``within``, its pixels come first (in random order), as in :func:`deletion_order`.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(pixels, generator=generator) for _ in range(n)])
    return _inside_first(order, within)


@torch.no_grad()
def deletion_curve(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    order: torch.Tensor,
    fractions: Sequence[float] = FRACTIONS,
    within: torch.Tensor | None = None,
) -> torch.Tensor:
    """Probability of ``target`` after deleting each fraction of pixels: ``[B, fractions]``.

    ``order`` ``[B, 784]`` ranks each image's pixels (see :func:`deletion_order`);
    deleted pixels are set to the background value, 0. A fraction counts all 784 pixels,
    or, with ``within`` (the mask the order was made with), only the pixels it holds: 0.5
    then deletes the top half of the garment.
    """
    x = as_inputs(images).reshape(len(order), -1)
    target = torch.as_tensor(target).reshape(-1, 1)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(x.shape[1]).expand_as(order))
    if within is None:
        pool = torch.full((len(order), 1), x.shape[1])
    else:
        pool = torch.as_tensor(within).reshape(len(order), -1).bool().sum(1, keepdim=True)
    curve = []
    for fraction in fractions:
        if not 0 <= fraction <= 1:
            raise ConfigError(f"fractions: {fraction} is not between 0 and 1")
        k = torch.round(fraction * pool)
        deleted = torch.where(rank < k, BASELINE, x).reshape(-1, 1, 28, 28)
        curve.append(model(deleted).softmax(1).gather(1, target).squeeze(1))
    return torch.stack(curve, dim=1)


def curve_area(curves: torch.Tensor, fractions: Sequence[float] = FRACTIONS) -> torch.Tensor:
    """Area under each deletion curve ``[..., fractions]`` over [0, 1] (trapezoids)."""
    return torch.trapezoid(curves, torch.tensor(fractions, dtype=curves.dtype), dim=-1)


def deletion_areas(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    maps: Mapping[str, torch.Tensor],
    seed: int = 0,
    fractions: Sequence[float] = FRACTIONS,
    within: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Deletion curves ``[B, fractions]`` and their areas ``[B]`` for each map and random.

    ``maps`` holds ``[B, 28, 28]`` per method (see :func:`~fmnist_edu.interpret.methods.
    attribute_all`). Returns ``(curves, areas)``, keyed by method and :data:`RANDOM`.
    With ``within`` (e.g. ``images > 0``), every order, the random one too, deletes only
    among its pixels, and the fractions count them alone: the control for background
    pixels, which are 0 already, so that deleting them changes nothing.
    """
    orders = {m: deletion_order(v, seed, within) for m, v in maps.items()}
    orders[RANDOM] = random_order(len(images), seed, within=within)
    curves = {
        m: deletion_curve(model, images, target, o, fractions, within) for m, o in orders.items()
    }
    return curves, {m: curve_area(c, fractions) for m, c in curves.items()}


def _gaussian_perturbation(std: float, generator: torch.Generator):
    def perturb(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn(inputs.shape, generator=generator) * std
        return noise, inputs - noise

    return perturb


def infidelity(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    maps: torch.Tensor,
    samples: int = 10,
    std: float = 0.1,
    seed: int = 0,
) -> torch.Tensor:
    """Captum's ``infidelity`` of ``maps`` ``[B, 28, 28]``, one value per image (lower: better).

    The perturbations are Gaussian noise of standard deviation ``std`` (on the [0, 1]
    pixel scale), ``samples`` per image, drawn from a generator seeded by ``seed``. The
    maps are rescaled optimally first (``normalize=True``), so methods whose maps differ
    only in scale score the same.
    """
    inputs = as_inputs(images)
    perturb = _gaussian_perturbation(std, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return captum_infidelity(
            model, perturb, inputs, maps.reshape(inputs.shape), target=target,
            n_perturb_samples=samples, normalize=True,
        )  # fmt: skip


def sensitivity(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    method: str,
    samples: int = 4,
    radius: float = 0.02,
    seed: int = 0,
) -> torch.Tensor:
    """Captum's ``sensitivity_max`` of ``method``, one value per image (lower: more stable).

    The largest change of the map, relative to its size, over ``samples`` copies of each
    image with uniform noise in ``[-radius, radius]`` added to every pixel.
    """
    inputs = as_inputs(images)

    def explain(x: torch.Tensor | tuple[torch.Tensor], target: torch.Tensor) -> tuple:
        x = x[0] if isinstance(x, tuple) else x  # Captum passes a tuple of one tensor
        return (attribute(model, x, method, target, seed=seed).reshape(x.shape),)  # a tuple too

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return sensitivity_max(explain, inputs, perturb_radius=radius,
                               n_perturb_samples=samples, target=target).detach()  # fmt: skip
