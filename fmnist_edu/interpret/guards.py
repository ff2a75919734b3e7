"""Guards that stop an attribution from running where it would silently be wrong.

- Attribution needs gradients, so it cannot run under ``torch.inference_mode``.
- A model in training mode draws new dropout masks for every gradient.
- DeepLift and Guided Backpropagation replace the backward pass of each ``nn.ReLU``
  module, so they need one module per activation: a reused module makes Captum raise,
  and a functional ``F.relu`` is silently treated as an ordinary function.
- DeepLift's rules also read the modules in the order they run: max-pooling before a ReLU
  computes the same function as after it, but not the same attributions
  (:func:`pool_before_relu` builds that twin, to show it).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from fmnist_edu.errors import ConfigError


def check_ready(model: nn.Module) -> None:
    """Raise ``ConfigError`` under ``torch.inference_mode`` or for a model in training mode."""
    if torch.is_inference_mode_enabled():
        raise ConfigError(
            "attribution needs gradients: call attribute() outside torch.inference_mode()"
        )
    if model.training:
        raise ConfigError("the model is in training mode (dropout is random): call model.eval()")


class _ReluCalls(TorchFunctionMode):
    """Counts every call of a ReLU function, through a module or not."""

    FUNCTIONS = frozenset({F.relu, F.relu_, torch.relu, torch.relu_,
                           torch.Tensor.relu, torch.Tensor.relu_})  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += func in self.FUNCTIONS
        return func(*args, **(kwargs or {}))


def check_relu_modules(model: nn.Module, inputs: torch.Tensor) -> None:
    """Check that every ReLU of ``model`` is its own ``nn.ReLU`` module, called once.

    Runs one forward pass on ``inputs`` and counts the calls of each ``nn.ReLU`` module and
    of ReLU functions. DeepLift and Guided Backpropagation need this: Captum raises for a
    module used twice, and computes wrong attributions, without a word, for ``F.relu``.

    Raises:
        ConfigError: naming the module used more than once, or the number of ReLUs
            applied outside modules.
    """
    counts: dict[str, int] = {}
    hooks = [
        module.register_forward_hook(
            lambda m, i, o, name=name: counts.__setitem__(name, counts.get(name, 0) + 1)
        )  # fmt: skip
        for name, module in model.named_modules()
        if isinstance(module, nn.ReLU)
    ]
    try:
        with torch.no_grad(), _ReluCalls() as calls:
            model(inputs[:1])
    finally:
        for hook in hooks:
            hook.remove()
    reused = sorted(name for name, n in counts.items() if n > 1)
    if reused:
        raise ConfigError(
            f"the nn.ReLU module(s) {', '.join(reused)} run more than once per forward pass; "
            "DeepLift and Guided Backprop need one nn.ReLU module per activation"
        )
    outside = calls.calls - sum(counts.values())
    if outside > 0:
        raise ConfigError(
            f"{outside} ReLU(s) are applied as functions (F.relu or torch.relu), not as "
            "nn.ReLU modules; DeepLift and Guided Backprop would treat them as ordinary "
            "functions and give wrong attributions: use one nn.ReLU module per activation"
        )


def pool_before_relu(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ReLU -> max-pool pair of an ``nn.Sequential`` swapped.

    Max-pooling commutes with the monotone ReLU, so the copy computes exactly the same
    function, but DeepLift's rules, applied module by module in their stored order, give
    it other attributions: the sums of Captum's DeepLift maps of such a network no longer
    add up to the change of the logit. The book's CNN stores conv -> ReLU -> pool; this
    twin (conv -> pool -> ReLU) shows why that matters. ``model`` is left unchanged.
    """
    twin = copy.deepcopy(model)
    for module in twin.modules():
        if not isinstance(module, nn.Sequential):
            continue
        items = list(module._modules.items())
        for i in range(len(items) - 1):
            if isinstance(items[i][1], nn.ReLU) and isinstance(items[i + 1][1], nn.MaxPool2d):
                items[i], items[i + 1] = items[i + 1], items[i]
        module._modules = OrderedDict(items)
    return twin.eval() if not model.training else twin
