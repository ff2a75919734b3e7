"""One fixed random permutation of the 784 pixels: the content of an image kept, its layout lost.

Shuffling the pixels of every image the same way keeps every pixel value and every label,
so no information is lost, but pixels that were neighbours end up anywhere. A model that
treats its input as an unordered list of 784 numbers, such as the MLP, cannot tell the
difference; a CNN, whose kernels look at neighbouring pixels, can.

For the MLP this is exact, not approximate: its first layer computes ``W @ x``, and
permuting the inputs ``x`` permutes the columns of ``W`` that they meet. An MLP whose first
layer's columns are permuted the same way (:func:`relabel_first_layer`) computes on
permuted images exactly what the original computes on the originals, and, trained with
the same batches, receives permuted gradients. Only the order of the 784 products in each
sum differs, so the two agree up to float rounding.

A permutation is named by the seed that draws it (:func:`pixel_permutation`), which is how
:class:`fmnist_edu.experiments.Experiment` stores it (its ``permute`` field).
"""

from __future__ import annotations

import operator

import torch
from torch import nn

from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.models import IMAGE_SIDE

PIXELS = IMAGE_SIDE * IMAGE_SIDE


def pixel_permutation(seed: int, pixels: int = PIXELS) -> torch.Tensor:
    """Return the permutation of ``pixels`` positions drawn by ``seed`` (``int64 [pixels]``).

    The same seed gives the same permutation on every machine (a seeded CPU generator).
    """
    try:
        seed = operator.index(seed)
    except TypeError:
        raise ConfigError(f"permute={seed!r}: a permutation's seed is a whole number") from None
    if not 0 <= seed < 2**63:
        raise ConfigError(f"permute={seed}: a permutation's seed is between 0 and 2**63 - 1")
    return torch.randperm(pixels, generator=torch.Generator().manual_seed(seed))


def _check_order(order: torch.Tensor, pixels: int) -> None:
    if order.shape != (pixels,) or not torch.equal(order.sort().values, torch.arange(pixels)):
        raise ConfigError(
            f"order: expected a permutation of {pixels} positions, got shape {tuple(order.shape)}"
        )


def permute_pixels(images: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Shuffle the pixels of every image the same way: flat pixel ``i`` becomes pixel ``order[i]``.

    Args:
        images: a batch ``[..., H, W]`` (e.g. ``uint8 [N, 28, 28]``), any dtype or device.
        order: a permutation of the ``H * W`` flat positions (row-major), e.g. from
            :func:`pixel_permutation`.

    Returns:
        A new tensor like ``images`` with ``out.flatten(-2)[..., i] ==
        images.flatten(-2)[..., order[i]]``.
    """
    height, width = images.shape[-2:]
    _check_order(order, height * width)
    flat = images.flatten(-2)  # [..., H*W]
    return flat[..., order.to(images.device)].reshape(images.shape)


def permute_split(split: Split, order: torch.Tensor) -> Split:
    """Return ``split`` with the pixels of every image shuffled by ``order`` (labels kept)."""
    return Split(permute_pixels(split.images, order), split.labels)


def first_linear(model: nn.Module) -> nn.Linear:
    """Return the first ``nn.Linear`` of ``model``: the layer that meets the flat pixels."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            return module
    raise ConfigError(f"{type(model).__name__} has no dense layer to relabel")


@torch.no_grad()
def relabel_first_layer(model: nn.Module, order: torch.Tensor) -> nn.Module:
    """Permute the input columns of ``model``'s first dense layer like :func:`permute_pixels`.

    Afterwards ``model(permute_pixels(x, order))`` equals what the model computed on ``x``
    before (up to float rounding): column ``i`` now holds the weights of pixel ``order[i]``.
    Only a model whose first layer reads the flat pixels (the MLP) may be relabelled;
    the change is made in place and the model is returned.

    Raises:
        ConfigError: when the first dense layer does not take one input per pixel.
    """
    layer = first_linear(model)
    if layer.in_features != len(order):
        raise ConfigError(
            f"{type(model).__name__}: its first dense layer takes {layer.in_features} inputs, "
            f"not one per pixel ({len(order)}); only a model that reads the flat pixels "
            "can be relabelled"
        )
    _check_order(order, layer.in_features)
    layer.weight.copy_(layer.weight[:, order.to(layer.weight.device)])
    return model
