"""Attribution methods: a name -> Captum class table and one :func:`attribute` for all.

Every method is Captum's :cite:`kokhlikyan2020captum`; this module only chooses their
settings for 28 x 28 grey images and guards against the mistakes that make attributions
silently wrong:

- attribution needs gradients, so it refuses to run under ``torch.inference_mode``;
- a model in training mode would draw new dropout masks for every gradient, so it must be
  in eval mode;
- DeepLift and Guided Backpropagation replace the backward pass of each ``nn.ReLU``
  module, so they need one module per activation: a reused module makes Captum raise,
  and a functional ``F.relu`` is silently treated as an ordinary function, giving wrong
  attributions (:func:`~fmnist_edu.interpret.guards.check_relu_modules` catches both
  before they run).

Every attribution is of the model's *logit* for ``target`` (the models return logits).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fmnist_edu.errors import ConfigError
from fmnist_edu.interpret.guards import check_ready, check_relu_modules
from fmnist_edu.models import IMAGE_SIDE
from fmnist_edu.training import to_inputs

with warnings.catch_warnings():  # tqdm.auto's notice in a notebook without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    from captum.attr import (
        DeepLift,
        GuidedBackprop,
        IntegratedGradients,
        LayerAttribution,
        LayerGradCam,
        NoiseTunnel,
        Occlusion,
        Saliency,
    )

#: The input that stands for "no garment": every pixel at the background value, 0.
BASELINE = 0.0
#: Captum's notices about its own bookkeeping (hooks set and removed, inputs made to
#: require gradients); they say nothing about the maps, so attribute() keeps them quiet.
CAPTUM_NOTICES = (
    "Input Tensor .* did not already require gradients",
    "Setting backward hooks on ReLU",
    "Setting forward, backward hooks",
)


@dataclass(frozen=True)
class Method:
    """One attribution method: its Captum class, how to read its maps, its defaults.

    Attributes:
        title: the name readers know it by.
        captum: the Captum class that computes it.
        signed: whether its maps carry a sign (evidence for or against the target); the
            unsigned ones are magnitudes, never negative.
        options: keyword arguments for the Captum ``attribute`` call; :func:`attribute`
            lets a caller override them.
        needs_relu_modules: it rewrites the backward pass of ``nn.ReLU`` modules.
        citation: the key of its paper in the book's bibliography.
    """

    title: str
    captum: type
    signed: bool
    options: dict[str, Any] = field(default_factory=dict)
    needs_relu_modules: bool = False
    citation: str = ""


METHODS: dict[str, Method] = {
    "saliency": Method("Saliency", Saliency, False, {"abs": True}, citation="simonyan2014deep"),
    "integrated-gradients": Method(
        "Integrated Gradients",
        IntegratedGradients,
        True,
        {"n_steps": 16, "method": "gausslegendre"},
        citation="sundararajan2017axiomatic",
    ),
    "smoothgrad": Method(
        "SmoothGrad",
        NoiseTunnel,
        False,
        {"nt_type": "smoothgrad", "nt_samples": 10, "stdevs": 0.15},
        citation="smilkov2017smoothgrad",
    ),
    "occlusion": Method(
        "Occlusion",
        Occlusion,
        True,
        {"sliding_window_shapes": (1, 4, 4), "strides": (1, 4, 4), "perturbations_per_eval": 49},
        citation="zeiler2014visualizing",
    ),
    "grad-cam": Method(
        "Grad-CAM",
        LayerGradCam,
        False,
        {"relu_attributions": True, "interpolate_mode": "bilinear"},
        citation="selvaraju2017gradcam",
    ),
    "guided-backprop": Method(
        "Guided Backprop",
        GuidedBackprop,
        True,
        needs_relu_modules=True,
        citation="springenberg2015striving",
    ),
    "deeplift": Method(
        "DeepLift", DeepLift, True, needs_relu_modules=True, citation="shrikumar2017learning"
    ),
}
"""The attribution methods by name, in the order the book presents them."""


def get_method(name: str) -> Method:
    """Return the :class:`Method` called ``name``, or a ``ConfigError`` listing the names."""
    if name not in METHODS:
        raise ConfigError(f"method={name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name]


def last_conv(model: nn.Module) -> nn.Conv2d:
    """The model's last ``nn.Conv2d``; ``ConfigError`` when it has none."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ConfigError(
            f"Grad-CAM needs a convolution layer, and this {type(model).__name__} has none"
        )
    return convs[-1]


def gradcam_layer(model: nn.Module) -> nn.Module:
    """The layer Grad-CAM reads: the rectified feature maps of the last convolution.

    Selvaraju et al. weight the last convolutional layer's feature maps after its ReLU
    (the maps a VGG passes on to pooling). So this is the ``nn.ReLU`` module that directly
    follows :func:`last_conv` (``features.relu2`` in the book's CNN), or the convolution
    itself when no ReLU module follows it.
    """
    conv = last_conv(model)
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    index = next(i for i, m in enumerate(leaves) if m is conv)
    after = leaves[index + 1] if index + 1 < len(leaves) else None
    return after if isinstance(after, nn.ReLU) else conv


def as_inputs(images: torch.Tensor) -> torch.Tensor:
    """Model inputs ``float [B, 1, 28, 28]`` from ``uint8 [B, 28, 28]`` images or inputs.

    A float batch already shaped ``[B, 1, 28, 28]`` is returned as it is (cloned if it was
    made under ``torch.inference_mode``, which autograd cannot use).
    """
    images = torch.as_tensor(images)
    if images.dtype == torch.uint8 and images.shape[1:] == (IMAGE_SIDE, IMAGE_SIDE):
        return to_inputs(images)
    if images.is_floating_point() and images.shape[1:] == (1, IMAGE_SIDE, IMAGE_SIDE):
        return images.clone() if images.is_inference() else images
    raise ConfigError(
        f"images: expected uint8 [B, 28, 28] images or float [B, 1, 28, 28] model inputs, "
        f"got {images.dtype} {tuple(images.shape)}"
    )


def _targets(model: nn.Module, inputs: torch.Tensor, target: Any) -> torch.Tensor:
    """One class per image: ``target`` broadcast, or the model's prediction for ``None``."""
    if target is None:
        with torch.no_grad():
            return model(inputs).argmax(1)
    target = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if len(target) == 1:
        target = target.expand(len(inputs))
    if len(target) != len(inputs) or not bool(((target >= 0) & (target < 10)).all()):
        raise ConfigError(
            f"target: expected one class in 0..9 per image ({len(inputs)}), got {target.tolist()}"
        )
    return target


def _grad_cam(model, inputs, target, relu_attributions, interpolate_mode, **options):
    cam = LayerGradCam(model, gradcam_layer(model)).attribute(
        inputs, target=target, relu_attributions=relu_attributions, **options
    )  # [B, 1, h, w], the resolution of the last convolution's output
    return LayerAttribution.interpolate(cam, inputs.shape[-2:], interpolate_mode)


def _smoothgrad(model, inputs, target, **options):
    return NoiseTunnel(Saliency(model)).attribute(inputs, target=target, **options)


_RUNNERS: dict[str, Callable[..., torch.Tensor]] = {
    "grad-cam": _grad_cam,
    "smoothgrad": _smoothgrad,
}
_WITH_BASELINE = ("integrated-gradients", "deeplift", "occlusion")


def attribute(
    model: nn.Module,
    images: torch.Tensor,
    method: str,
    target: Any = None,
    seed: int = 0,
    **options: Any,
) -> torch.Tensor:
    """Attribute ``model``'s logit for ``target`` to the pixels of each image.

    Args:
        model: a classifier in eval mode, mapping ``[B, 1, 28, 28]`` to logits ``[B, 10]``.
        images: ``uint8 [B, 28, 28]`` images or ``float [B, 1, 28, 28]`` model inputs.
        method: a name from :data:`METHODS`.
        target: the class to explain: one for all images, one per image, or ``None`` for
            the model's prediction.
        seed: seeds the random draws (SmoothGrad's noise), so a map is reproducible.
        options: override the method's Captum settings, e.g. ``n_steps=64``.

    Returns:
        ``float [B, 28, 28]``, detached: one map per image, on the images' grid.

    Raises:
        ConfigError: unknown method or option, a model in training mode, inference mode,
            bad images or targets, or (for DeepLift and Guided Backprop) ReLUs that are
            not one module each (see :func:`check_relu_modules`).
    """
    spec = get_method(method)
    check_ready(model)
    inputs = as_inputs(images).detach()
    target = _targets(model, inputs, target)
    settings = dict(spec.options)
    unknown = sorted(set(options) - set(settings) - {"baselines"})
    if unknown:
        raise ConfigError(
            f"{method} takes the options {', '.join(sorted(settings)) or 'none'}; "
            f"got {', '.join(unknown)}"
        )
    settings |= options
    if method in _WITH_BASELINE:
        settings.setdefault("baselines", BASELINE)
    if spec.needs_relu_modules:
        check_relu_modules(model, inputs)
    with torch.random.fork_rng(devices=[]), torch.enable_grad(), warnings.catch_warnings():
        for notice in CAPTUM_NOTICES:
            warnings.filterwarnings("ignore", message=notice, category=UserWarning)
        torch.manual_seed(seed)
        runner = _RUNNERS.get(method)
        if runner is not None:
            maps = runner(model, inputs, target, **settings)
        else:
            maps = spec.captum(model).attribute(inputs, target=target, **settings)
    return maps.detach().reshape(len(inputs), IMAGE_SIDE, IMAGE_SIDE).float()


def attribute_all(
    model: nn.Module,
    images: torch.Tensor,
    methods: Sequence[str],
    target: Any = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """:func:`attribute` with each of ``methods``: a dict of ``[B, 28, 28]`` maps."""
    return {m: attribute(model, images, m, target, seed=seed) for m in methods}


@torch.no_grad()
def completeness_gap(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    maps: torch.Tensor,
    baseline: float = BASELINE,
) -> torch.Tensor:
    """How far each map's sum is from ``f(x) - f(baseline)``, relative to it: ``[B]``.

    Integrated Gradients and DeepLift promise *completeness*: the attributions add up to
    the change of the target's logit between the baseline (an image with every pixel at
    ``baseline``, the value the maps were computed with) and the image. A gap of 0.01 means
    they add up to within 1 %.
    """
    inputs = as_inputs(images)
    target = torch.as_tensor(target).reshape(-1, 1)
    change = model(inputs).gather(1, target) - model(torch.full_like(inputs, baseline)).gather(
        1, target
    )
    change = change.squeeze(1)
    return (maps.reshape(len(maps), -1).sum(1) - change).abs() / change.abs().clamp(min=1e-12)


def gradcam_side(model: nn.Module) -> int:
    """The side of the feature maps Grad-CAM works on (:func:`gradcam_layer`'s output)."""
    sides: list[int] = []
    hook = gradcam_layer(model).register_forward_hook(lambda m, i, out: sides.append(out.shape[-1]))
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, IMAGE_SIDE, IMAGE_SIDE))
    finally:
        hook.remove()
    return sides[0]
