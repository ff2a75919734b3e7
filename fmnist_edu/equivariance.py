"""Shift equivariance and invariance, measured on layers, features and whole models.

A layer ``f`` is *equivariant* to shifts when shifting its input shifts its output,
``f(shift(x)) = shift(f(x))``, and *invariant* when the shift does not change the output,
``f(shift(x)) = f(x)``. A convolution is equivariant by construction, except near the
border, where its zero padding and the shift's zero fill disagree; pooling and dense layers
are neither, exactly :cite:`zhang2019making,azulay2019deep`. Every shift here is
:func:`fmnist_edu.transforms.shift`, with zero fill.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.training import predict
from fmnist_edu.transforms import shift

#: Shifts of the robustness study, in pixels (negative: up or left).
SHIFTS = tuple(range(-4, 5))
#: The four one-pixel moves: down, right, up, left, as ``(dy, dx)``.
ONE_PIXEL = ((1, 0), (0, 1), (-1, 0), (0, -1))


def interior_mask(height: int, width: int, kernel_size: int, dy: int, dx: int) -> torch.Tensor:
    """Where ``conv(shift(x))`` must equal ``shift(conv(x))`` whatever ``x``: ``bool [H, W]``.

    For a stride-1 convolution with "same" zero padding (``r = kernel_size // 2``), output
    ``(i, j)`` qualifies when its ``k x k`` window lies inside the frame (``r <= i <=
    H - 1 - r``, likewise ``j``), so no padding enters it, and when the pixel the shift
    brings there exists (``0 <= i - dy < H``, likewise ``j - dx``), so it is not zero fill.
    """
    r = kernel_size // 2

    def allowed(n: int, d: int) -> torch.Tensor:
        i = torch.arange(n)
        return (i >= r) & (i <= n - 1 - r) & (i - d >= 0) & (i - d < n)

    return allowed(height, dy)[:, None] & allowed(width, dx)[None, :]


@dataclass(frozen=True)
class EquivarianceGap:
    """``|conv(shift(x)) - shift(conv(x))|`` for a batch, inside and outside the interior."""

    interior: float  # largest difference where :func:`interior_mask` holds
    border: float  # largest difference elsewhere
    scale: float  # largest |conv(x)|, to judge the differences against
    difference: torch.Tensor  # [B, C_out, H, W], the absolute differences
    mask: torch.Tensor  # bool [H, W], the interior


@torch.no_grad()
def equivariance_gap(conv: nn.Conv2d, images: torch.Tensor, dy: int, dx: int) -> EquivarianceGap:
    """Compare ``conv(shift(x))`` with ``shift(conv(x))`` for a shift of ``(dy, dx)`` pixels.

    Args:
        conv: a convolution with stride 1 and "same" padding (e.g. a trained CNN's conv1).
        images: ``float [B, C_in, H, W]``, e.g. from :func:`fmnist_edu.training.to_inputs`.
        dy, dx: the shift, down and right.
    """
    k = conv.kernel_size[0]
    if conv.stride != (1, 1) or conv.padding != (k // 2, k // 2) or k % 2 == 0:
        raise ConfigError("equivariance_gap needs an odd-kernel convolution, stride 1, 'same'")
    reference = conv(images)
    difference = (conv(shift(images, dy, dx)) - shift(reference, dy, dx)).abs()
    mask = interior_mask(images.shape[-2], images.shape[-1], k, dy, dx)
    return EquivarianceGap(
        interior=float(difference[..., mask].max()) if mask.any() else 0.0,
        border=float(difference[..., ~mask].max()) if (~mask).any() else 0.0,
        scale=float(reference.abs().max()),
        difference=difference,
        mask=mask,
    )


@torch.no_grad()
def relative_change(
    features: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    offsets: Sequence[tuple[int, int]] = ONE_PIXEL,
) -> torch.Tensor:
    """How much ``features`` change when the input moves: ``float [len(offsets), B]``.

    Entry ``(o, b)`` is ``||f(shift(x_b)) - f(x_b)|| / ||f(x_b)||`` for offset ``o``: the
    features are compared position by position, without shifting them back, so 0 means
    invariant and values near 1 or above mean the features moved as much as they are large.

    Args:
        features: maps ``images`` to features ``[B, ...]`` (e.g. conv1 and its ReLU).
        images: ``float [B, C, H, W]``.
        offsets: the ``(dy, dx)`` shifts to try.
    """
    base = features(images).flatten(1)  # [B, F]
    norm = base.norm(dim=1).clamp(min=1e-12)
    changes = [(features(shift(images, dy, dx)).flatten(1) - base).norm(dim=1) / norm
               for dy, dx in offsets]  # fmt: skip
    return torch.stack(changes)


def shifted(split: Split, dy: int, dx: int) -> Split:
    """The split with every image shifted ``dy`` down and ``dx`` right (zero fill)."""
    return Split(shift(split.images, dy, dx), split.labels)


def axis_offsets(axis: str, shifts: Sequence[int] = SHIFTS) -> list[tuple[int, int]]:
    """The ``(dy, dx)`` offsets of ``shifts`` along ``"horizontal"`` or ``"vertical"``."""
    if axis not in ("horizontal", "vertical"):
        raise ConfigError(f"axis={axis!r}: choose 'horizontal' or 'vertical'")
    return [(0, s) if axis == "horizontal" else (s, 0) for s in shifts]


def shift_predictions(
    models: Sequence[nn.Module],
    split: Split,
    offsets: Sequence[tuple[int, int]],
    batch_size: int = 256,
) -> torch.Tensor:
    """Each model's prediction for each shifted image: ``int64 [len(offsets), len(models), N]``.

    ``(predictions == split.labels)[o]`` is, for offset ``o``, what
    :func:`fmnist_edu.comparison.compare` takes (one row per seed); its mean over the last
    dimension gives the accuracies. The models are moved to the channels-last memory
    format, in which the CPU runs their convolutions about twice as fast (same results),
    and predict ``batch_size`` images at a time: on a CPU, batches of 256 take about half
    the time of batches of 1,024, whose activations are allocated afresh for every batch.
    """
    for model in models:
        model.to(memory_format=torch.channels_last)
    rows = []
    for dy, dx in offsets:
        moved = shifted(split, dy, dx)
        rows.append(torch.stack([predict(m, moved, batch_size).cpu() for m in models]))
    return torch.stack(rows)


def prediction_changes(model: nn.Module, split: Split, dy: int, dx: int) -> float:
    """Share of the images whose predicted class changes when they move by ``(dy, dx)``."""
    return float((predict(model, split) != predict(model, shifted(split, dy, dx))).float().mean())
