"""Sanity checks for attribution maps :cite:`adebayo2018sanity`: do they depend on the model?

A map that explains a model must change when the model changes. Two checks break the
model on purpose and measure how much each method's maps move:

- **cascading parameter randomisation** (:func:`cascading_randomisation`): re-initialise
  the weighted layers one at a time, from the output down to the input, keeping the
  earlier ones randomised, and recompute the maps after each step;
- **label randomisation**: compare the maps of a model with those of the same
  architecture trained on permuted labels (``Experiment(labels="shuffled")``), which
  cannot have learnt what the classes look like (:func:`map_similarity`).

Similarity is the Spearman rank correlation of the maps' absolute values
(:func:`rank_correlation`), image by image. A method *passes* when its maps, after every
layer is randomised, keep little of their ranking (:func:`verdict`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from scipy.stats import rankdata
from torch import nn

from fmnist_edu import comparison
from fmnist_edu.errors import ConfigError
from fmnist_edu.interpret.methods import attribute

#: A method passes when the mean rank correlation after full randomisation is below this
#: (with the whole 95 % interval below it), and fails when the whole interval is above it.
PASS_BELOW = 0.5
ORIGINAL = "original"


def rank_correlation(
    a: torch.Tensor, b: torch.Tensor, within: torch.Tensor | None = None
) -> torch.Tensor:
    """Spearman's rank correlation of ``|a|`` and ``|b|``, one value per map: ``[B]``.

    ``a`` and ``b`` are ``[B, ...]`` batches of maps; ``within``, a boolean mask of the same
    shape, restricts each correlation to its pixels (e.g. ``images > 0``, the garment).
    Tied values (the many exact zeros of Integrated Gradients or DeepLift on the
    background) share their average rank (``scipy.stats.rankdata``). A constant map has
    no ranking to share: its correlation is reported as 0.
    """
    if a.shape != b.shape or a.ndim < 2:
        raise ConfigError(f"rank_correlation needs two [B, ...] batches; got {a.shape}, {b.shape}")
    if within is not None:
        if within.shape != a.shape:
            raise ConfigError(f"within: expected a mask shaped {tuple(a.shape)}")
        return torch.cat([rank_correlation(x[m][None], y[m][None])
                          for x, y, m in zip(a, b, within.bool(), strict=True)])  # fmt: skip
    ranks = [
        torch.from_numpy(rankdata(m.abs().reshape(len(m), -1).double().numpy(), axis=1))
        for m in (a, b)
    ]
    ra, rb = (r - r.mean(1, keepdim=True) for r in ranks)
    norm = ra.norm(dim=1) * rb.norm(dim=1)
    return torch.where(norm > 0, (ra * rb).sum(1) / norm.clamp(min=1e-300), 0.0).float()


def weighted_layers(model: nn.Module) -> list[str]:
    """Names of the modules that hold weights, from the output down to the input."""
    names = [
        name
        for name, module in model.named_modules()
        if name and any(True for _ in module.parameters(recurse=False))
    ]
    return names[::-1]


def randomised_cascade(model: nn.Module, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``("original", model)``, then ``(layer, copy)`` as each layer is re-initialised.

    One copy of ``model`` is broken step by step: each step re-initialises one more layer
    (``reset_parameters``, PyTorch's own initialisation), from the top of
    :func:`weighted_layers` down, with a generator seeded by ``seed``, and yields the copy
    with that layer and all those above it random. The copy changes in place, so use it
    before asking for the next step. ``model`` itself is never changed.
    """
    yield ORIGINAL, model
    broken = copy.deepcopy(model).eval()
    modules = dict(broken.named_modules())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in weighted_layers(model):
            modules[name].reset_parameters()
            yield name, broken


@dataclass
class CascadeResult:
    """Maps and rank correlations along a cascading randomisation.

    Attributes:
        steps: ``"original"``, then the name of each layer as it is randomised.
        maps: per method, ``[steps, B, 28, 28]``.
        correlation: per method, ``[steps, B]``: each step's maps against the originals.
    """

    steps: list[str]
    maps: dict[str, torch.Tensor]
    correlation: dict[str, torch.Tensor]


def cascading_randomisation(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    methods: Sequence[str],
    seed: int = 0,
) -> CascadeResult:
    """Run the cascading randomisation check of ``methods`` on ``images`` (for ``target``).

    The target class stays the same at every step, so only the weights change.
    """
    steps, maps = [], {m: [] for m in methods}
    for name, step_model in randomised_cascade(model, seed):
        steps.append(name)
        for method in methods:
            maps[method].append(attribute(step_model, images, method, target, seed=seed))
    stacked = {m: torch.stack(v) for m, v in maps.items()}
    correlation = {
        m: torch.stack([rank_correlation(v[0], step) for step in v]) for m, v in stacked.items()
    }
    return CascadeResult(steps, stacked, correlation)


def map_similarity(
    reference: Mapping[str, torch.Tensor],
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Per method of ``reference``, the rank correlation ``[B]`` of ``model``'s maps with it.

    ``reference`` holds another model's maps of the same ``images`` and ``target``, e.g.
    the trained model's, to compare with the model trained on shuffled labels.
    """
    return {
        m: rank_correlation(maps, attribute(model, images, m, target, seed=seed))
        for m, maps in reference.items()
    }


@dataclass(frozen=True)
class Verdict:
    """Whether a method's maps moved when the model was broken.

    Attributes:
        mean: mean rank correlation with the original maps, over seeds and images.
        low, high: its bootstrap interval over seeds and images.
        outcome: ``"pass"`` (the whole interval below :data:`PASS_BELOW`), ``"fail"`` (the
            whole interval above it) or ``"unclear"``.
        confidence: the interval's coverage (0.95: a 95 % interval).
    """

    mean: float
    low: float
    high: float
    outcome: str
    confidence: float = 0.95


def verdict(correlations: torch.Tensor, threshold: float = PASS_BELOW) -> Verdict:
    """Judge a method from its correlations after randomisation, ``[seeds, images]``.

    The interval comes from :func:`fmnist_edu.comparison.compare`'s bootstrap over seeds
    and images (against zero, so its difference is the mean itself).
    """
    values = torch.as_tensor(correlations, dtype=torch.float64)
    c = comparison.compare(values, torch.zeros_like(values))
    outcome = "pass" if c.high < threshold else "fail" if c.low > threshold else "unclear"
    return Verdict(c.difference, c.low, c.high, outcome, c.confidence)


def step_verdicts(
    correlations: torch.Tensor, steps: Sequence[str], threshold: float = PASS_BELOW
) -> dict[str, Verdict]:
    """Judge a method layer by layer: one :func:`verdict` after each step of the cascade.

    ``correlations`` is ``[seeds, steps, images]`` (each seed's
    :attr:`CascadeResult.correlation`, stacked), ``steps`` names the steps, the
    original model first; the original is not judged (it matches itself). A method can
    pass after the last step and still ignore the top layers, which is what Adebayo et
    al. found for Guided Backprop: only the verdicts along the way show it.
    """
    values = torch.as_tensor(correlations)
    if values.ndim != 3 or values.shape[1] != len(steps):
        raise ConfigError(
            f"correlations: expected [seeds, {len(steps)} steps, images], got {tuple(values.shape)}"
        )
    return {step: verdict(values[:, k], threshold) for k, step in enumerate(steps) if k > 0}


def first_pass(verdicts: Mapping[str, Verdict]) -> str | None:
    """The step from which a method passes at every later step too; ``None`` if none does.

    ``verdicts`` are :func:`step_verdicts`, from the top layer down. The first step means
    the maps change as soon as the top layer is random; a later one, that they ignore
    every layer above it.
    """
    names = list(verdicts)
    for k, name in enumerate(names):
        if all(verdicts[later].outcome == "pass" for later in names[k:]):
            return name
    return None
