"""Inputs that are sets: the order of the elements means nothing, so no model should use it.

The task: a set of :data:`SIZE` digits (0 to 9); is their sum above :data:`THRESHOLD`
(the average sum, 36)? A sum does not depend on the order in which the digits are listed,
so the right answer is *permutation-invariant*. Every set is listed in a random order.

Two models read the same one-hot encoded elements ``[B, SIZE, SYMBOLS]``:

- :class:`SetCNN`, a 1-D CNN over the list as given: two convolutions along the list (each
  element seen with its neighbours), then a dense layer over all positions, like the book's
  CNN. It is *position-sensitive by design*: list the same set in another order and its
  output changes.
- :class:`DeepSets` :cite:`zaheer2017deepsets`: one small network applied to each element
  on its own, the results added up, and a head on the sum. A sum does not depend on the
  order of its terms, so the model is invariant by construction. Float addition is not
  associative, though: added up in another order, the same numbers can differ in the last
  bit. The model therefore adds them in sorted order, which is the same for every listing
  of the set, so its output is bit-for-bit identical for every order.

Both train with :func:`fmnist_edu.beyond.fit.fit` (sets are not images).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from fmnist_edu.beyond import fit as fitting
from fmnist_edu.beyond.conv1d import conv_block
from fmnist_edu.errors import ConfigError

SIZE = 8
SYMBOLS = 10  # the digits 0 to 9
THRESHOLD = SIZE * (SYMBOLS - 1) / 2  # the average sum: 36
WIDTH = 32
EPOCHS = 30
TRAIN_SETS, TEST_SETS = 1000, 1000
RELISTINGS = 5  # new random orders in which every test set is shown again


@dataclass(frozen=True)
class SetData:
    """Sets of digits and whether each set's sum is above :data:`THRESHOLD`.

    Attributes:
        elements: ``int64 [N, size]``, the digits of each set in the order they are listed.
        labels: ``int64 [N]``, 1 when the set's sum is above the threshold, else 0.
        symbols: how many different digits there are (``elements`` lies in ``[0, symbols)``).
    """

    elements: torch.Tensor
    labels: torch.Tensor
    symbols: int

    def __len__(self) -> int:
        return len(self.labels)


def make_sets(n: int, seed: int, size: int = SIZE, symbols: int = SYMBOLS) -> SetData:
    """Draw ``n`` sets of ``size`` digits, each uniform in ``[0, symbols)``, in random order.

    A set's label is 1 when its sum is above the average sum, ``size * (symbols - 1) / 2``.
    The same arguments give the same sets.
    """
    if n < 1:
        raise ConfigError(f"n={n}: draw at least one set")
    if size < 1 or symbols < 2:
        raise ConfigError(f"size={size}, symbols={symbols}: need size >= 1 and symbols >= 2")
    g = torch.Generator().manual_seed(seed)
    elements = torch.randint(0, symbols, (n, size), generator=g)
    labels = (2 * elements.sum(1) > size * (symbols - 1)).long()
    return SetData(elements, labels, symbols)


def shuffled(sets: SetData, seed: int) -> SetData:
    """The same sets, each listed in a new random order (labels unchanged)."""
    g = torch.Generator().manual_seed(seed)
    order = torch.rand(sets.elements.shape, generator=g).argsort(1)
    return SetData(sets.elements.gather(1, order), sets.labels, sets.symbols)


def one_hot(sets: SetData) -> torch.Tensor:
    """The models' input: ``float [N, size, symbols]``, one row per element."""
    return F.one_hot(sets.elements, sets.symbols).float()


class DeepSets(nn.Module):
    """phi on each element, a sum over the elements (in sorted order), then rho.

    Args:
        symbols: length of each element's one-hot code.
        width: width of phi's layers and of rho's hidden layer.
        classes: outputs.
        sorted_sum: add the elements' features in sorted order (bit-for-bit the same for
            every listing); ``False`` adds them in the order listed, which changes only
            the rounding.
    """

    def __init__(
        self,
        symbols: int = SYMBOLS,
        width: int = WIDTH,
        classes: int = 2,
        sorted_sum: bool = True,
    ) -> None:
        super().__init__()
        self.sorted_sum = sorted_sum
        self.phi = nn.Sequential(
            nn.Linear(symbols, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU()
        )
        self.rho = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map elements ``[B, n, symbols]`` to logits ``[B, classes]``, whatever their order."""
        per_element = self.phi(x)  # [B, n, width], each element on its own
        # Sorting each feature over the elements makes the terms' order, hence the float
        # sum, the same for every listing of the set.
        if self.sorted_sum:
            per_element = per_element.sort(dim=1).values
        pooled = per_element.sum(1)  # [B, width]
        return self.rho(pooled)


class SetCNN(nn.Module):
    """A 1-D CNN over the elements in the order listed: two convolutions, a dense head.

    Args:
        symbols: length of each element's one-hot code (the input channels).
        size: elements per set (the dense head has one weight per position).
        width: channels of the convolutions.
        kernel_size: elements each convolution looks at (odd: "same" padding).
        classes: outputs.
    """

    def __init__(
        self,
        symbols: int = SYMBOLS,
        size: int = SIZE,
        width: int = WIDTH,
        kernel_size: int = 3,
        classes: int = 2,
    ) -> None:
        super().__init__()
        self.features = conv_block(symbols, width, kernel_size)  # [B, symbols, n] -> [B, width, n]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(width * size, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map elements ``[B, n, symbols]`` to logits ``[B, classes]``."""
        return self.head(self.features(x.transpose(1, 2)))  # convolve along the n elements


MODELS = {"1-D CNN": SetCNN, "Deep Sets": DeepSets}


@dataclass
class SetRun:
    """One trained set model and what it did on the test sets.

    ``correct`` (``bool [N]``) says which test sets it classified correctly, in order, for
    :func:`fmnist_edu.comparison.compare`.
    """

    name: str
    seed: int
    model: nn.Module
    correct: torch.Tensor

    @property
    def accuracy(self) -> float:
        """Share of the test sets classified correctly."""
        return float(self.correct.float().mean())


def train_model(name: str, train: SetData, test: SetData, seed: int) -> SetRun:
    """Build ``MODELS[name]`` with ``seed``, train it on ``train`` and test it on ``test``.

    :data:`EPOCHS` epochs, batches of 64, Adam at 0.01.
    """
    if name not in MODELS:
        raise ConfigError(f"model {name!r}: choose one of {', '.join(MODELS)}")
    options: dict[str, int] = {"symbols": train.symbols}
    if MODELS[name] is SetCNN:
        options["size"] = train.elements.shape[1]  # its dense head has one weight per position
    torch.manual_seed(seed)
    model = MODELS[name](**options)
    fitting.fit(model, one_hot(train), train.labels, epochs=EPOCHS, seed=seed, lr=1e-2)
    return SetRun(name, seed, model, fitting.predict(model, one_hot(test)) == test.labels)


@dataclass(frozen=True)
class OrderEffect:
    """How a trained model's output on the test sets moves when the sets are re-listed.

    Attributes:
        changed: share of test sets whose predicted class changed for at least one
            re-listing.
        max_logit_change: the largest change of any logit, over all sets and re-listings.
        identical: True when every logit stayed bit-for-bit the same.
    """

    changed: float
    max_logit_change: float
    identical: bool


def order_effect(
    model: nn.Module, test: SetData, shuffles: int = RELISTINGS, seed: int = 0
) -> OrderEffect:
    """List every test set in ``shuffles`` new random orders and compare the outputs."""
    base = fitting.logits(model, one_hot(test))
    changed = torch.zeros(len(test), dtype=torch.bool)
    largest, identical = 0.0, True
    for k in range(shuffles):
        out = fitting.logits(model, one_hot(shuffled(test, seed + k)))
        changed |= out.argmax(1) != base.argmax(1)
        largest = max(largest, float((out - base).abs().max()))
        identical &= torch.equal(out, base)
    return OrderEffect(float(changed.float().mean()), largest, identical)
