"""Image shifts with zero fill: training-time augmentation and tests of shift invariance.

A shift moves every pixel of an image ``dy`` rows down and ``dx`` columns right
(negative values move up and left). Pixels that leave the frame are dropped and the
pixels that enter it are 0, the background of Fashion-MNIST. This is unlike
:func:`torch.roll`, which wraps the pixels leaving one edge around to the opposite edge
and so puts parts of a garment where there was background.

Both functions work on any batch whose last two dimensions are the image, e.g. ``uint8
[N, 28, 28]`` or ``float [N, 1, 28, 28]``, on any device, and return a new tensor of the
same shape, dtype and device.
"""

from __future__ import annotations

import math
import operator

import torch
import torch.nn.functional as F

from fmnist_edu.errors import ConfigError


def shift(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Return ``images`` shifted ``dy`` pixels down and ``dx`` pixels right, with zero fill.

    Every image of the batch moves by the same offset. Any integers are accepted: an
    offset at least as large as the image moves everything out of the frame and gives
    all zeros.

    Args:
        images: a batch ``[..., H, W]``, e.g. ``uint8 [N, 28, 28]``.
        dy: rows to move down (negative: up).
        dx: columns to move right (negative: left).

    Returns:
        A new tensor like ``images``: ``out[..., i, j] = images[..., i - dy, j - dx]``
        where that pixel exists, else 0.
    """
    dy, dx = operator.index(dy), operator.index(dx)
    height, width = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dy) >= height or abs(dx) >= width:
        return out
    # Source rows [max(0, -dy), H - max(0, dy)) land on rows [max(0, dy), H - max(0, -dy)).
    out[..., max(0, dy) : height - max(0, -dy), max(0, dx) : width - max(0, -dx)] = images[
        ..., max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)
    ]
    return out


def shift_each(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift image ``n`` of a batch by its own offset ``(dy[n], dx[n])``, with zero fill.

    Args:
        images: a batch ``[N, ..., H, W]`` (e.g. ``[N, 28, 28]`` or ``[N, 1, 28, 28]``).
        dy: integer offsets ``[N]``, rows to move down; each of ``|dy|`` below ``H``.
        dx: integer offsets ``[N]``, columns to move right; each of ``|dx|`` below ``W``.

    Returns:
        A new tensor like ``images``; image ``n`` equals ``shift(images[n], dy[n], dx[n])``.
    """
    n, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    if dy.shape != (n,) or dx.shape != (n,):
        raise ConfigError(f"shift_each needs one dy and one dx per image ({n}); got {dy.shape}")
    m = int(max(dy.abs().max(), dx.abs().max())) if n else 0
    if m >= max(height, width):
        raise ConfigError(f"shift_each: offsets must be smaller than the image; got {m}")
    # Pad by m zeros on every side, then crop each image's window at its own offset:
    # out[n, i, j] = padded[n, i + m - dy[n], j + m - dx[n]].
    flat = images.reshape(n, math.prod(images.shape[1:-2]), height, width)  # [N, C, H, W]
    padded = F.pad(flat, (m, m, m, m)) if m else flat  # [N, C, H + 2m, W + 2m]
    dy, dx = dy.to(images.device), dx.to(images.device)
    rows = torch.arange(height, device=images.device) + m - dy[:, None]  # [N, H]
    cols = torch.arange(width, device=images.device) + m - dx[:, None]  # [N, W]
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(flat.shape[1], device=images.device)[None, :, None, None]
    out = padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]  # [N,C,H,W]
    return out.reshape(images.shape)


def random_shift(
    images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image by its own random offset, drawn uniformly from ``[-max_shift, max_shift]``.

    The vertical and horizontal offsets are drawn independently, on the CPU from
    ``generator``, so a seeded generator gives the same shifts on every device.

    Args:
        images: a batch ``[N, ..., H, W]``.
        max_shift: the largest offset, in pixels, in each direction (0 returns a copy).
        generator: the source of randomness; ``None`` uses torch's global generator.

    Returns:
        A new tensor like ``images``, every image shifted with zero fill.
    """
    max_shift = operator.index(max_shift)
    if not 0 <= max_shift < min(images.shape[-2:]):
        raise ConfigError(f"max_shift={max_shift}: must be between 0 and the image side - 1")
    offsets = torch.randint(-max_shift, max_shift + 1, (2, len(images)), generator=generator)
    return shift_each(images, offsets[0], offsets[1])
