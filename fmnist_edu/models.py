"""The two architectures the book compares: an MLP baseline and a configurable CNN.

Both take a batch of images shaped ``[B, 1, 28, 28]`` (floats in ``[0, 1]``) and return
logits ``[B, 10]``. The defaults reproduce the designs of the original CNN-vs-MLP study
this book grows from (the "Convolutional Neural Networks Analysis: Fashion-MNIST" notes);
we keep its designs, but not its parameter counts for 5x5 and 7x7 kernels, which were
wrong (it gave ~980K and ~1.8M; the formula gives 454,922 and 504,842):

- ``MLP``: 784 -> 128 -> 64 -> 10, ReLU, dropout 0.2 (109,386 parameters);
- ``CNN``: conv 32 -> max-pool -> conv 64 -> max-pool -> dense 128 -> dropout 0.3 -> 10,
  3x3 kernels, "same" padding (421,642 parameters).

The CNN's convolutional part is data: a tuple of :class:`Block` (each a few :class:`Conv`
and an optional pool), made by :func:`vgg_blocks` from the design options and built by
:func:`build_features`, as torchvision builds VGG from its configuration lists. Stacked
3x3 kernels, stride-2 downsampling and valid padding are other data, not other code.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from fmnist_edu import registry
from fmnist_edu.errors import ConfigError
from fmnist_edu.registry import register  # noqa: F401  (models.register: bring your own model)

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


#: How a block halves its feature maps: a 2x2 max-pool after its last convolution, or a
#: stride of 2 in that convolution (Springenberg et al., 2015).
DOWNSAMPLING = ("pool", "stride")


@dataclass(frozen=True)
class Conv:
    """One convolution of a block: output channels, kernel side, stride and zero padding."""

    width: int
    kernel_size: int = 3
    stride: int = 1
    padding: int = 1


@dataclass(frozen=True)
class Block:
    """Convolutions, each followed by ReLU, then (if ``pool``) a 2x2 max-pool."""

    convs: tuple[Conv, ...]
    pool: bool = True


def vgg_blocks(
    kernel_size: int = 3,
    depth: int = 2,
    stride: int = 1,
    padding: str = "same",
    widths: Sequence[int] | None = None,
    convs_per_block: int = 1,
    downsample: str = "pool",
) -> tuple[Block, ...]:
    """Return the architecture of a VGG-style CNN as data: one :class:`Block` per stage.

    Block ``i`` holds ``convs_per_block`` convolutions of ``widths[i]`` channels (default:
    32, 64, 128, ... doubling), all ``kernel_size`` wide with ``stride`` and ``padding``.
    With ``downsample="pool"`` a 2x2 max-pool ends each block; with ``"stride"`` the
    block's last convolution has stride 2 instead (and ``stride`` must stay 1). Two
    stacked 3x3 convolutions see the same 5x5 patch as one 5x5 convolution (three see
    7x7): the comparison of Simonyan & Zisserman (2015), here a change of data, not code.
    """
    for name, value in (("kernel_size", kernel_size), ("stride", stride)):
        if value < 1:
            raise ConfigError(f"{name}={value}: must be at least 1")
    if depth < 1:
        raise ConfigError(f"depth={depth}: a CNN needs at least one conv block")
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"depth={depth}: 2x2 pooling halves the 28x28 image at most {MAX_DEPTH} times"
        )
    if convs_per_block < 1:
        raise ConfigError(f"convs_per_block={convs_per_block}: a block needs a convolution")
    if downsample not in DOWNSAMPLING:
        raise ConfigError(f"downsample={downsample!r}: choose 'pool' or 'stride'")
    if downsample == "stride" and stride != 1:
        raise ConfigError(
            f"stride={stride} with downsample='stride': the block's last convolution takes "
            "stride 2 in place of pooling; leave stride=1"
        )
    widths = tuple(widths) if widths is not None else tuple(32 * 2**i for i in range(depth))
    if len(widths) != depth:
        raise ConfigError(f"widths={widths}: needs one width per block (depth={depth})")
    _check_widths("widths", widths)
    pad = _padding(kernel_size, padding)
    pool = downsample == "pool"
    blocks = []
    for width in widths:
        convs = [Conv(width, kernel_size, stride, pad) for _ in range(convs_per_block)]
        if not pool:
            convs[-1] = Conv(width, kernel_size, 2, pad)
        blocks.append(Block(tuple(convs), pool))
    return tuple(blocks)


def _names(i: int, j: int, n: int) -> str:
    """Layer suffix: ``1`` for block 1's only conv, ``1_2`` for its second of several."""
    return f"{i}" if n == 1 else f"{i}_{j}"


def build_features(blocks: Sequence[Block]) -> tuple[nn.Sequential, int, int]:
    """Build the convolutional stack ``blocks`` describes; return it, its channels and side.

    Layers are named ``conv1``, ``relu1``, ``pool1`` (VGG's ``conv1_1``, ``conv1_2``, ...
    when a block holds several convolutions), in the order they compute: conv -> ReLU,
    and a 2x2 max-pool after a block's last ReLU. (Pooling before the ReLU would give the
    same function, since max commutes with the monotone ReLU, but attribution rules such
    as DeepLift's read the layers in their stored order, so the stored order is the
    documented one.)

    Raises:
        ConfigError: naming the block that shrinks the 28x28 image to nothing.
    """
    if not blocks:
        raise ConfigError("blocks=(): a CNN needs at least one conv block")
    layers: dict[str, nn.Module] = {}
    channels, side = 1, IMAGE_SIDE
    for i, block in enumerate(blocks, start=1):
        if not block.convs:
            raise ConfigError(f"block {i} holds no convolution")
        for j, conv in enumerate(block.convs, start=1):
            _check_widths("widths", (conv.width,))
            side = conv_output_side(side, conv.kernel_size, conv.stride, conv.padding)
            if side < (2 if block.pool and j == len(block.convs) else 1):
                raise ConfigError(
                    f"kernel_size={conv.kernel_size}, stride={conv.stride}, padding="
                    f"{conv.padding}: block {i} shrinks the 28x28 image to {max(side, 0)}x"
                    f"{max(side, 0)}, too small" + (" to pool" if block.pool else "")
                )
            name = _names(i, j, len(block.convs))
            layers[f"conv{name}"] = nn.Conv2d(
                channels, conv.width, conv.kernel_size, conv.stride, conv.padding
            )
            layers[f"relu{name}"] = nn.ReLU()
            if block.pool and j == len(block.convs):
                side = conv_output_side(side, 2, 2, 0)
                layers[f"pool{i}"] = nn.MaxPool2d(2)
            channels = conv.width
    return nn.Sequential(OrderedDict(layers)), channels, side  # -> [B, channels, side, side]


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)  # fmt: skip


def fused_features(features: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Run ``features`` on ``x``, with each ReLU -> 2D max-pool pair fused: pool, then ReLU.

    Max commutes with the ReLU (a monotone function), so ``relu(pool(x))`` equals
    ``pool(relu(x))`` bit for bit, and so do the gradients: both send a window's gradient
    to the first position of its maximum when that maximum is positive, and nothing when
    it is not (ReLU's gradient is 0 there). The ReLU then reads and writes a quarter of
    the values, in the forward and the backward pass; on a CPU, where these layers wait
    on memory, that is a sixth of a training step of the default CNN. Training uses it
    (:meth:`CNN.forward` in training mode); evaluation and attribution methods, which
    read the layers in their stored order, run the modules one by one. A layer with a
    hook attached runs as itself.
    """
    layers = list(features)
    i = 0
    while i < len(layers):
        layer = layers[i]
        pool = layers[i + 1] if i + 1 < len(layers) else None
        if (
            type(layer) is nn.ReLU
            and type(pool) is nn.MaxPool2d
            and not (_hooked(layer) or _hooked(pool))
        ):
            x = layer(pool(x))
            i += 2
        else:
            x = layer(x)
            i += 1
    return x


class CNN(nn.Module):
    """A small VGG-style CNN: ``depth`` blocks of conv -> ReLU -> 2x2 max-pool, then a head.

    The convolutional part is built from data (:func:`vgg_blocks`, or ``blocks`` given
    directly), as torchvision builds VGG from its configuration lists.

    Args:
        kernel_size: side of every convolution kernel.
        depth: number of conv blocks.
        stride: stride of every convolution (pooling always uses 2).
        padding: ``"same"`` (pad ``k // 2``, keeps the side at stride 1) or ``"valid"``.
        widths: output channels per block; default doubles from 32 (32, 64, 128, ...).
        hidden: width of the dense layer before the classifier.
        dropout: dropout before the classifier.
        num_classes: outputs of the last layer.
        convs_per_block: convolutions per block (2 or 3 stacked small kernels, as VGG).
        downsample: ``"pool"`` (2x2 max-pool) or ``"stride"`` (the block's last
            convolution has stride 2) to halve each block's output.
        blocks: the architecture as a list of :class:`Block`; when given, it replaces
            the seven design arguments above (which must then keep their defaults).

    Attributes:
        fuse: in training mode, run each ReLU -> max-pool pair fused (default ``True``;
            see :func:`fused_features`); ``False`` runs every module in turn, the same
            numbers more slowly (``benchmarks/bench_training.py`` times both).
    """

    fuse: bool = True

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
        convs_per_block: int = 1,
        downsample: str = "pool",
        blocks: Sequence[Block] | None = None,
    ) -> None:
        super().__init__()
        design = (kernel_size, depth, stride, padding, widths, convs_per_block, downsample)
        if blocks is None:
            blocks = vgg_blocks(*design)
        elif design != (3, 2, 1, "same", None, 1, "pool"):
            raise ConfigError("blocks= describes the whole design; give no other design option")
        _check_widths("hidden", (hidden,))
        self.blocks = tuple(blocks)
        self.features, channels, side = build_features(self.blocks)
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
        """Map images ``[B, 1, 28, 28]`` to logits ``[B, num_classes]``.

        In training mode each ReLU followed by a max-pool runs fused (see
        :func:`fused_features`): the same numbers and gradients, bit for bit, in less time.
        """
        if self.training and torch.is_grad_enabled() and not torch.jit.is_scripting():
            return self._fused_forward(x)
        return self.classifier(self.features(x))

    @torch.jit.unused  # TorchScript exports the model for evaluation, module by module
    def _fused_forward(self, x: torch.Tensor) -> torch.Tensor:
        features = fused_features(self.features, x) if self.fuse else self.features(x)
        return self.classifier(features)


def build_model(name: str, **options: object) -> nn.Module:
    """Build ``"mlp"`` or ``"cnn"`` with ``options`` for :class:`MLP` or :class:`CNN`.

    The MLP takes only ``hidden`` (its widths); the CNN takes any of its arguments. Any
    other name is a model registered with :func:`register`, built with no options.
    """
    if name == "mlp":
        unknown = sorted(set(options) - {"hidden"})
        if unknown:
            raise ConfigError(f"the MLP takes no CNN options; got {', '.join(unknown)}")
        return MLP(**options)  # type: ignore[arg-type]
    if name == "cnn":
        return CNN(**options)  # type: ignore[arg-type]
    builder = registry.lookup(name)
    if options:
        raise ConfigError(f"model {name!r} is built by its own builder; it takes no options, "
                          f"got {', '.join(sorted(options))}")  # fmt: skip
    return builder()


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
