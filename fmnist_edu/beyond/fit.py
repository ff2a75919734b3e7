"""The small training loop for inputs that are not images: table rows and sets.

:func:`fmnist_edu.training.train` is the book's one loop, but it takes ``uint8`` images
``[N, 28, 28]`` and scales them to ``[0, 1]`` itself (:func:`fmnist_edu.training.to_inputs`);
standardised table features (floats, negative too) and sets of symbols (integers
``[N, size]``) cannot pass through it. :func:`fit` is the same recipe (Adam,
cross-entropy, mini-batches reshuffled every epoch by a seeded CPU generator, dropout
seeded through torch's global generator) for any tensor whose first dimension counts
the examples. It runs on the CPU: these models are tiny.

Tiny models also run faster on one CPU thread than on several, which spend longer
agreeing than computing; :func:`one_thread` sets that for a block (the long-range models
use it around the book's loop too).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from fmnist_edu.errors import ConfigError, DataError


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, let torch use one CPU thread; restore the previous count after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def fit(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    epochs: int,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
) -> list[float]:
    """Train ``model`` in place with Adam and cross-entropy; return the mean loss per epoch.

    Args:
        model: maps ``inputs[idx]`` (any shape ``[B, ...]``) to logits ``[B, classes]``.
        inputs: the training examples, first dimension ``N``.
        labels: ``int64 [N]``, the class of each example.
        epochs: passes over the examples.
        batch_size: examples per gradient step (the last batch may be smaller).
        lr: Adam's learning rate.
        seed: seeds torch's global generator (dropout) and the shuffling generator. The
            initial weights are set by whoever built ``model``.

    Raises:
        DataError: when there are no examples, or inputs and labels differ in number.
        ConfigError: for ``epochs`` or ``batch_size`` below 1.
    """
    if len(inputs) == 0 or len(inputs) != len(labels):
        raise DataError(
            f"fit needs as many labels as inputs, at least one: got {len(inputs)} inputs "
            f"and {len(labels)} labels"
        )
    if epochs < 1 or batch_size < 1:
        raise ConfigError(f"epochs={epochs}, batch_size={batch_size}: both must be at least 1")
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    model.train()
    with one_thread():
        for _ in range(epochs):
            total = 0.0
            for idx in torch.split(torch.randperm(len(inputs), generator=shuffle), batch_size):
                loss = loss_fn(model(inputs[idx]), labels[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            losses.append(total / len(inputs))
    model.eval()
    return losses


@torch.no_grad()
def logits(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Return the model's logits for ``inputs`` in eval mode (no dropout), on one thread."""
    model.eval()
    with one_thread():
        return model(inputs)


def predict(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Return the predicted class of every example (``int64 [N]``)."""
    return logits(model, inputs).argmax(1)
