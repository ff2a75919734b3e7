"""What a trained network computes inside: its layers' outputs, caught with forward hooks.

:func:`capture` runs a batch through a model and keeps the outputs of the named layers
(``model.named_modules()`` names, e.g. ``"features.conv1"``), without changing the model:
the hooks are removed and the train/eval mode restored afterwards. The other functions
summarise what the chapters show: the ReLU responses of every convolution, their spatial
means over a whole split, and two descriptions of filters and channels that can be
checked, unlike a reading of pictures: how far a filter's weights cancel, and how
selective a channel is for one class :cite:`morcos2018importance`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.training import to_inputs


def _inputs(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``uint8 [B, 28, 28]`` become model inputs; ``float [B, 1, 28, 28]`` pass as they are."""
    if images.dtype == torch.uint8:
        return to_inputs(images, device)
    return images.to(device)


@torch.no_grad()
def capture(
    model: nn.Module, images: torch.Tensor, layers: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Run ``images`` through ``model`` in eval mode; return the named layers' outputs.

    Args:
        model: any module, e.g. a trained :class:`fmnist_edu.models.CNN`.
        images: ``uint8 [B, 28, 28]`` or model inputs ``float [B, 1, 28, 28]``.
        layers: names from ``model.named_modules()``, e.g. ``["features.conv1"]``.

    Returns:
        ``{name: output}`` on the CPU, e.g. ``features.conv1 -> [B, 32, 28, 28]`` for the
        default CNN (the convolution's output, before pooling and ReLU).
    """
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        known = ", ".join(name for name in modules if name)
        raise ConfigError(f"no layer named {', '.join(unknown)}; the model has: {known}")
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            outputs[name] = output.detach().cpu()

        return hook

    handles = [modules[name].register_forward_hook(keep(name)) for name in layers]
    was_training = model.training
    try:
        model.eval()
        model(_inputs(images, next(model.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: outputs[name] for name in layers}


def conv_layers(model: nn.Module) -> list[str]:
    """Names of the model's ``nn.Conv2d`` layers, in order (``features.conv1``, ...)."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def conv_responses(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """ReLU of every convolution's output: what the next layer receives, before pooling.

    For the default CNN: ``features.conv1 -> [B, 32, 28, 28]`` and
    ``features.conv2 -> [B, 64, 14, 14]``, all values ``>= 0``.
    """
    return {name: out.relu() for name, out in capture(model, images, conv_layers(model)).items()}


def mean_responses(
    model: nn.Module, split: Split, batch_size: int = 256
) -> dict[str, torch.Tensor]:
    """Each convolution channel's ReLU response averaged over positions: ``{name: [N, C]}``.

    Computed in batches, so a whole test split fits in memory.
    """
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(split), batch_size):
        batch = conv_responses(model, split.images[start : start + batch_size])
        for name, out in batch.items():
            parts.setdefault(name, []).append(out.mean(dim=(2, 3)))
    return {name: torch.cat(chunks) for name, chunks in parts.items()}


def filter_balance(weight: torch.Tensor) -> torch.Tensor:
    """How far each filter's weights cancel: ``|sum w| / sum |w|``, ``[C_out]`` in [0, 1].

    0: positive and negative weights cancel, so a uniform patch (all background or all
    ink) gives only the bias; the filter responds to changes of intensity. 1: all weights
    have one sign; the filter responds to the amount of ink.

    Args:
        weight: a convolution's weights ``[C_out, C_in, k, k]``.
    """
    flat = weight.detach().flatten(1)
    return flat.sum(1).abs() / flat.abs().sum(1).clamp(min=1e-12)


def class_selectivity(responses: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The class-selectivity index of each channel: ``[C]`` in [0, 1].

    ``(m_max - m_rest) / (m_max + m_rest)``, where ``m_max`` is the channel's largest mean
    response over the classes and ``m_rest`` its mean over the other classes
    :cite:`morcos2018importance`: 0 when the channel responds equally to every class, 1
    when it responds to one class only.

    Args:
        responses: non-negative responses ``[N, C]`` (e.g. from :func:`mean_responses`).
        labels: the classes ``[N]`` of the images.
    """
    classes = int(labels.max()) + 1
    if responses.ndim != 2 or len(responses) != len(labels):
        raise ConfigError(
            f"class_selectivity needs [N, C] responses for N labels; got {responses.shape}"
        )
    means = torch.stack([responses[labels == c].mean(0) for c in range(classes)])  # [10, C]
    top = means.max(0).values
    rest = (means.sum(0) - top) / (classes - 1)
    return (top - rest) / (top + rest).clamp(min=1e-12)


SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
"""The Sobel kernel for changes from left to right; its transpose is for top to bottom."""


def ink_and_edges(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ink (pixel value in [0, 1]) and the edge strength of images: two ``[N, H, W]``.

    The edge strength is the length of the Sobel gradient (zero padding), divided by 4 so
    that a step from 0 to 1 gives 1: large on outlines, 0 on flat background or flat ink.

    Args:
        images: ``uint8 [N, H, W]``.
    """
    x = images.float().div(255)[:, None]  # [N, 1, H, W]
    kernels = torch.stack([SOBEL, SOBEL.T])[:, None]  # [2, 1, 3, 3]
    gradient = torch.nn.functional.conv2d(x, kernels, padding=1) / 4  # [N, 2, H, W]
    return x[:, 0], gradient.norm(dim=1)


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correlation of each row of ``a`` ``[C, M]`` with ``b`` ``[M]``: ``[C]`` (0 if constant)."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean()
    return (a @ b) / (a.norm(dim=1) * b.norm()).clamp(min=1e-12)


def response_correlations(
    responses: torch.Tensor, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """How each channel's response follows the ink and the edges: two ``[C]`` in [-1, 1].

    The Pearson correlation, over every position of every image, of a channel's response
    with the ink and with the edge strength (:func:`ink_and_edges`). A response map
    smaller than the image (after pooling) is compared with the ink and edges averaged
    over the pixels each position covers.

    Args:
        responses: ``[N, C, h, w]`` (e.g. from :func:`conv_responses`), ``h`` dividing ``H``.
        images: ``uint8 [N, H, W]``, the images that produced them.
    """
    ink, edges = ink_and_edges(images)
    factor = images.shape[-1] // responses.shape[-1]
    if factor * responses.shape[-1] != images.shape[-1] or len(responses) != len(images):
        raise ConfigError(
            f"responses {tuple(responses.shape)} do not tile images {tuple(images.shape)}"
        )
    pool = torch.nn.functional.avg_pool2d
    ink, edges = (pool(m[:, None], factor)[:, 0] if factor > 1 else m for m in (ink, edges))
    flat = responses.transpose(0, 1).flatten(1)  # [C, N * h * w]
    return _pearson(flat, ink.flatten()), _pearson(flat, edges.flatten())
