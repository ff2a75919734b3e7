"""From a dense layer to a convolution: the assumptions, their parameter counts, their data.

A convolution is a dense layer with two assumptions imposed on its weights
:cite:`goodfellow2016deep`:

- **weight sharing** (translation equivariance): the weight from input pixel ``(k, l)`` to
  output pixel ``(i, j)`` depends only on the offset ``(k - i, l - j)``;
- **locality**: that weight is zero unless the offset lies within the kernel,
  ``|k - i|, |l - j| <= r`` for a ``(2r + 1) x (2r + 1)`` kernel.

This module makes each step computable: :func:`dense_from_kernel` writes a kernel out as
the weights of the equivalent dense layer, :class:`LocallyConnected2d` is locality without
sharing, and :func:`layer_parameters` counts the three layers' parameters. The last part
chooses the training-set sizes and epochs of the sample-efficiency study, counts their
gradient steps (comparisons are reported with :func:`fmnist_edu.comparison.table`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fmnist_edu.comparison import Comparison
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment

# --- the derivation -------------------------------------------------------------------


def _radius(kernel_size: int) -> int:
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size={kernel_size}: needs an odd kernel (a centre pixel)")
    return kernel_size // 2


def dense_from_kernel(kernel: torch.Tensor, side: int) -> torch.Tensor:
    """Write a ``k x k`` kernel as the weights of the equivalent dense layer.

    Returns ``W`` ``[side, side, side, side]`` with ``W[i, j, u, v] = kernel[u - i + r,
    v - j + r]`` when ``|u - i|, |v - j| <= r`` (``r = k // 2``) and 0 otherwise: output
    ``(i, j)`` of the dense layer ``y[i, j] = sum_uv W[i, j, u, v] x[u, v]`` then equals
    ``F.conv2d(x, kernel, padding=r)`` (the zero padding is the weights that are missing
    at the border).

    Args:
        kernel: ``[k, k]``, ``k`` odd.
        side: the image's side ``n`` (input and output are ``n x n``).
    """
    k = kernel.shape[-1]
    if kernel.shape != (k, k):
        raise ConfigError(f"dense_from_kernel needs a square [k, k] kernel; got {kernel.shape}")
    r = _radius(k)
    weights = torch.zeros(side, side, side, side, dtype=kernel.dtype)
    i = torch.arange(side)
    for a in range(k):
        for b in range(k):
            rows, cols = (
                i[(i + a - r >= 0) & (i + a - r < side)],
                i[(i + b - r >= 0) & (i + b - r < side)],
            )
            ii, jj = torch.meshgrid(rows, cols, indexing="ij")
            weights[ii, jj, ii + a - r, jj + b - r] = kernel[a, b]
    return weights


# --- what the assumptions save ------------------------------------------------------


class LocallyConnected2d(nn.Module):
    """Locality without weight sharing: every output position has its own kernel.

    Like ``nn.Conv2d(in_channels, out_channels, kernel_size, padding=k // 2)`` (stride 1,
    "same" zero padding), except that the kernel and the bias at each of the
    ``side x side`` positions are separate parameters.

    Args:
        in_channels, out_channels: channels of the input ``[B, in, side, side]`` and of the
            output ``[B, out, side, side]``.
        side: the input's (and output's) side.
        kernel_size: odd side of every kernel.

    Attributes:
        weight: ``[side * side, out_channels, in_channels * k * k]``, one kernel per position.
        bias: ``[out_channels, side, side]``, one bias per output unit.
    """

    def __init__(self, in_channels: int, out_channels: int, side: int, kernel_size: int) -> None:
        super().__init__()
        self.side, self.kernel_size = side, kernel_size
        self.padding = _radius(kernel_size)
        fan_in = in_channels * kernel_size**2
        bound = 1 / math.sqrt(fan_in)  # the same initial range as nn.Conv2d's
        self.weight = nn.Parameter(
            torch.empty(side * side, out_channels, fan_in).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(out_channels, side, side).uniform_(-bound, bound))

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, side: int) -> LocallyConnected2d:
        """A locally connected layer holding ``conv``'s kernel and bias at every position.

        It computes exactly what ``conv`` computes: a convolution is this layer with all
        its per-position kernels tied to one. ``conv`` must have stride 1 and "same"
        padding.
        """
        k = conv.kernel_size[0]
        if conv.stride != (1, 1) or conv.padding != (k // 2, k // 2) or conv.dilation != (1, 1):
            raise ConfigError("from_conv needs a convolution with stride 1 and 'same' padding")
        layer = cls(conv.in_channels, conv.out_channels, side, k)
        with torch.no_grad():
            layer.weight.copy_(conv.weight.reshape(conv.out_channels, -1).expand_as(layer.weight))
            bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
            layer.bias.copy_(bias[:, None, None].expand_as(layer.bias))
        return layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``[B, in, side, side]`` to ``[B, out, side, side]``."""
        patches = F.unfold(x, self.kernel_size, padding=self.padding)  # [B, in*k*k, side*side]
        out = torch.einsum("bfp,pof->bop", patches, self.weight)  # [B, out, side*side]
        return out.reshape(len(x), -1, self.side, self.side) + self.bias


@dataclasses.dataclass(frozen=True)
class LayerParameters:
    """Parameters of three layers mapping ``[in, side, side]`` to ``[out, side, side]``."""

    dense: int  # every input unit to every output unit, one bias per output unit
    locally_connected: int  # a k x k window per output position, no sharing
    convolution: int  # one k x k kernel per (out, in) channel pair, one bias per channel


def layer_parameters(
    in_channels: int, out_channels: int, side: int, kernel_size: int
) -> LayerParameters:
    """Count the parameters of a dense, a locally connected and a convolutional layer.

    All three map an input ``[in_channels, side, side]`` to an output
    ``[out_channels, side, side]`` (stride 1, "same" padding for the two local ones):

    - dense: ``(in * n^2) * (out * n^2)`` weights + ``out * n^2`` biases;
    - locally connected: ``n^2 * out * in * k^2`` weights + ``out * n^2`` biases;
    - convolution: ``out * in * k^2`` weights + ``out`` biases.
    """
    _radius(kernel_size)
    units_in, units_out = in_channels * side * side, out_channels * side * side
    return LayerParameters(
        dense=units_in * units_out + units_out,
        locally_connected=side * side * out_channels * in_channels * kernel_size**2 + units_out,
        convolution=out_channels * in_channels * kernel_size**2 + out_channels,
    )


# --- the sample-efficiency study ----------------------------------------------------

#: Training-set sizes of the sample-efficiency study, before "all the available images".
SAMPLE_SIZES = (100, 250, 500, 1_000, 2_000)


def scaled_epochs(epochs: int, available: int, size: int) -> int:
    """Epochs that let a run on ``size`` images see as many images as ``epochs`` on all.

    ``ceil(epochs * available / size)``: with ``available = 3,252`` and 3 epochs, a run
    on 100 images trains for 98 epochs (9,800 images seen against 9,756).
    """
    if not 1 <= size <= available:
        raise ConfigError(f"size={size}: must be between 1 and the {available:,} available")
    return math.ceil(epochs * available / size)


def sample_efficiency_experiments(
    model: str, available: int, epochs: int, sizes: Sequence[int] = SAMPLE_SIZES
) -> list[Experiment]:
    """One :class:`Experiment` per training-set size, all seeing the same number of images.

    Sizes at or above ``available`` are dropped; the last experiment trains on all the
    ``available`` images for ``epochs`` epochs (``limit=None``: the same run as
    ``Experiment(model=model, epochs=epochs)``, so it comes from the store when that ran).
    Smaller sizes take a class-stratified subset (drawn with the run's seed) and
    :func:`scaled_epochs`, and never validate (``validate="none"``): the study compares
    test accuracies, and validating 6,000 images after each of a run's many short epochs
    took most of its time.
    """
    chosen = sorted(s for s in set(sizes) if s < available)
    runs = [
        Experiment(
            model=model, limit=s, epochs=scaled_epochs(epochs, available, s), validate="none"
        )
        for s in chosen
    ]
    return runs + [Experiment(model=model, epochs=epochs)]


def gradient_steps(size: int, epochs: int, batch_size: int) -> int:
    """Gradient steps of a run on ``size`` images: ``ceil(size / batch_size) * epochs``.

    :func:`fmnist_edu.training.train` cuts each epoch into batches of ``batch_size`` and
    a smaller last one, so a run on few images takes more steps than its share of the
    images seen: 100 images in batches of 128 make one step of 100 per epoch.
    """
    if min(size, epochs, batch_size) < 1:
        raise ConfigError(f"size={size}, epochs={epochs}, batch_size={batch_size}: all >= 1")
    return -(-size // batch_size) * epochs


@dataclasses.dataclass(frozen=True)
class LargestLead:
    """Where a difference (e.g. the CNN's lead) is largest, and whether that stands out.

    ``separated`` is True only when the largest difference's interval lies wholly above
    every other one's: then the run pins down where the difference peaks. Otherwise the
    intervals overlap, and the largest point estimate may be luck.
    """

    index: int  # of the largest difference
    runner_up: int  # of the next largest
    separated: bool


def largest_lead(comparisons: Sequence[Comparison]) -> LargestLead:
    """Find the comparison with the largest difference, and test whether it stands out."""
    if len(comparisons) < 2:
        raise ConfigError(f"largest_lead needs at least 2 comparisons; got {len(comparisons)}")
    order = sorted(range(len(comparisons)), key=lambda k: comparisons[k].difference, reverse=True)
    best = comparisons[order[0]]
    others = max(c.high for k, c in enumerate(comparisons) if k != order[0])
    return LargestLead(order[0], order[1], best.low > others)
