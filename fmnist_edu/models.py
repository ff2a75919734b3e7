"""The two architectures the book compares: an MLP baseline and a configurable CNN.

Both take a batch of images shaped ``[B, 1, 28, 28]`` (floats in ``[0, 1]``) and return
logits ``[B, 10]``. The defaults reproduce the designs of the original CNN-vs-MLP study
this book grows from (the "Convolutional Neural Networks Analysis: Fashion-MNIST" notes);
we keep its designs, but not its parameter counts for 5x5 and 7x7 kernels, which were
wrong (it gave ~980K and ~1.8M; the formula gives 454,922 and 504,842):

- ``MLP``: 784 -> 128 -> 64 -> 10, ReLU, dropout 0.2 (109,386 parameters);
- ``CNN``: conv 32 -> max-pool -> conv 64 -> max-pool -> dense 128 -> dropout 0.3 -> 10,
  3x3 kernels, "same" padding (421,642 parameters).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from fmnist_edu.errors import ConfigError

IMAGE_SIDE = 28
NUM_CLASSES = 10
MLP_HIDDEN = (128, 64)
CNN_HIDDEN = 128
#: 2x2 pooling halves the side, so a 28x28 image takes at most 4 conv blocks.
MAX_DEPTH = int(math.log2(IMAGE_SIDE))


def _check_widths(name: str, widths: Sequence[int]) -> None:
    if not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ConfigError(f"{name}={tuple(widths)}: every width must be a positive integer")


class MLP(nn.Sequential):
    """A fully connected baseline that sees the image as 784 unrelated numbers.

    Args:
        hidden: widths of the hidden layers, each followed by ReLU and dropout.
        dropout: dropout probability after each hidden layer.
        num_classes: outputs of the last layer.
    """

    def __init__(
        self,
        hidden: Sequence[int] = MLP_HIDDEN,
        dropout: float = 0.2,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        _check_widths("hidden", hidden)
        layers: dict[str, nn.Module] = {"flatten": nn.Flatten()}  # [B,1,28,28] -> [B,784]
        width = IMAGE_SIDE * IMAGE_SIDE
        for i, h in enumerate(hidden, start=1):
            layers |= {f"fc{i}": nn.Linear(width, h), f"relu{i}": nn.ReLU()}
            layers[f"dropout{i}"] = nn.Dropout(dropout)
            width = h
        layers[f"fc{len(hidden) + 1}"] = nn.Linear(width, num_classes)
        super().__init__(OrderedDict(layers))


def conv_output_side(side: int, kernel_size: int, stride: int, padding: int) -> int:
    """Return the output side of a convolution or pooling: floor((n + 2p - k) / s) + 1."""
    return (side + 2 * padding - kernel_size) // stride + 1


def _padding(kernel_size: int, padding: str) -> int:
    if padding == "valid":
        return 0
    if padding == "same":
        if kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size={kernel_size}: 'same' padding needs an odd kernel")
        return kernel_size // 2
    raise ConfigError(f"padding={padding!r}: choose 'same' or 'valid'")


class CNN(nn.Module):
    """A small VGG-style CNN: ``depth`` blocks of conv -> ReLU -> 2x2 max-pool, then a head.

    Each block is stored as conv -> pool -> ReLU, which computes the same function.

    Args:
        kernel_size: side of every convolution kernel.
        depth: number of conv blocks.
        stride: stride of every convolution (pooling always uses 2).
        padding: ``"same"`` (pad ``k // 2``, keeps the side at stride 1) or ``"valid"``.
        widths: output channels per block; default doubles from 32 (32, 64, 128, ...).
        hidden: width of the dense layer before the classifier.
        dropout: dropout before the classifier.
    """

    def __init__(
        self,
        kernel_size: int = 3,
        depth: int = 2,
        stride: int = 1,
        padding: str = "same",
        widths: Sequence[int] | None = None,
        hidden: int = CNN_HIDDEN,
        dropout: float = 0.3,
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ConfigError(f"kernel_size={kernel_size}: must be at least 1")
        if depth < 1:
            raise ConfigError(f"depth={depth}: a CNN needs at least one conv block")
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"depth={depth}: 2x2 pooling halves the 28x28 image at most {MAX_DEPTH} times"
            )
        if stride < 1:
            raise ConfigError(f"stride={stride}: must be at least 1")
        widths = tuple(widths) if widths is not None else tuple(32 * 2**i for i in range(depth))
        if len(widths) != depth:
            raise ConfigError(f"widths={widths}: needs one width per block (depth={depth})")
        _check_widths("widths", widths)
        _check_widths("hidden", (hidden,))
        pad = _padding(kernel_size, padding)
        blocks: dict[str, nn.Module] = {}
        channels, side = 1, IMAGE_SIDE
        for i, width in enumerate(widths, start=1):
            side = conv_output_side(side, kernel_size, stride, pad)
            if side < 2:
                raise ConfigError(
                    f"kernel_size={kernel_size}, stride={stride}, padding={padding!r}, "
                    f"depth={depth}: block {i} shrinks the 28x28 image to {max(side, 0)}x"
                    f"{max(side, 0)}, too small to pool"
                )
            side = conv_output_side(side, 2, 2, 0)
            # Pooling before ReLU computes exactly conv -> ReLU -> pool (max-pooling
            # commutes with the monotone ReLU) with a 4x smaller ReLU: ~1.5x faster on a CPU.
            blocks[f"conv{i}"] = nn.Conv2d(channels, width, kernel_size, stride, pad)
            blocks[f"pool{i}"] = nn.MaxPool2d(2)
            blocks[f"relu{i}"] = nn.ReLU()
            channels = width
        self.features = nn.Sequential(OrderedDict(blocks))  # -> [B, C, side, side]
        self.classifier = nn.Sequential(
            OrderedDict(
                flatten=nn.Flatten(),  # -> [B, C * side * side]
                fc1=nn.Linear(channels * side * side, hidden),
                relu=nn.ReLU(),
                dropout=nn.Dropout(dropout),
                fc2=nn.Linear(hidden, num_classes),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``[B, 1, 28, 28]`` to logits ``[B, num_classes]``."""
        return self.classifier(self.features(x))


def build_model(name: str, **options: object) -> nn.Module:
    """Build ``"mlp"`` or ``"cnn"`` with ``options`` for :class:`MLP` or :class:`CNN`.

    The MLP takes only ``hidden`` (its widths); the CNN takes any of its arguments.
    """
    if name == "mlp":
        unknown = sorted(set(options) - {"hidden"})
        if unknown:
            raise ConfigError(f"the MLP takes no CNN options; got {', '.join(unknown)}")
        return MLP(**options)  # type: ignore[arg-type]
    if name == "cnn":
        return CNN(**options)  # type: ignore[arg-type]
    raise ConfigError(f"model={name!r}: choose 'mlp' or 'cnn'")


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
