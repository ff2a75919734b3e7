"""The convolutional block shared by the 1-D CNNs of tables and sets.

Both :class:`fmnist_edu.beyond.tabular.FeatureCNN` (over a row of a table) and
:class:`fmnist_edu.beyond.sets.SetCNN` (over the elements of a set as listed) start with
the same two layers of the book's CNN, in one dimension: a convolution whose kernel sees
``kernel_size`` neighbours, ReLU, a second convolution, ReLU. "Same" padding keeps the
length, so a dense head after them has one weight per position and channel.
"""

from __future__ import annotations

from torch import nn

from fmnist_edu.errors import ConfigError


def conv_block(in_channels: int, channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Two 1-D convolutions with ReLU: ``[B, in_channels, L] -> [B, channels, L]``.

    Args:
        in_channels: channels of the input (1 for a table row, one per symbol for a set).
        channels: channels of both convolutions.
        kernel_size: neighbours each convolution looks at; odd, so that "same" padding
            keeps the length ``L``.

    Raises:
        ConfigError: for an even or non-positive ``kernel_size``.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"kernel_size={kernel_size}: must be odd ('same' padding)")
    pad = kernel_size // 2
    return nn.Sequential(
        nn.Conv1d(in_channels, channels, kernel_size, padding=pad),
        nn.ReLU(),
        nn.Conv1d(channels, channels, kernel_size, padding=pad),
        nn.ReLU(),
    )
