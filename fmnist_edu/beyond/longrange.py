"""Long-range dependencies: a label that relates two marks in opposite corners of the image.

Each synthetic 28 x 28 image holds two 5 x 5 marks, a plus or a cross, one near the
top-left corner and one near the bottom-right corner (each moved by up to
:data:`JITTER` pixels). The label says whether the two marks are the **same** shape. Each
mark on its own says nothing about the label; only the pair does.

:class:`MarkNet` is a small network of 3 x 3 convolutions with one of two heads:

- ``head="average"``, fully convolutional: a 1 x 1 convolution gives every position a
  vote for each class from what its receptive field sees, and the votes are averaged over
  the image. When the receptive field is narrower than :func:`min_window`, no position
  sees both marks, and the average is a sum of one term that depends on the top-left mark
  and one that depends on the bottom-right mark. No such sum can separate "same" from
  "different": if it scored plus/plus and cross/cross above a threshold and plus/cross and
  cross/plus below it, adding the first two inequalities and the last two would give the
  same total both above and below. So at least one of the four combinations is always
  wrong, and the accuracy is at most :data:`ADDITIVE_CEILING` (75 %). Trained with
  cross-entropy it does worse still: each mark alone is independent of the label, so the
  sum with the lowest cross-entropy gives every image about the same probability of
  "same" (the share of "same" among the training images; the marks move it only by
  sampling noise), and the network may answer the more frequent training class for every
  image (:func:`majority_share` measures it). This is the classic failure of a linear
  logistic model on the exclusive-or.
- ``head="dense"``: the same convolutions, then a dense layer over every position, which
  sees the whole image and can combine the two corners.

The images are ``uint8`` like Fashion-MNIST's, so the models train with the book's loop,
:func:`fmnist_edu.training.train`.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from fmnist_edu import models, summary, training
from fmnist_edu.beyond import fit as fitting
from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.models import IMAGE_SIDE

MARK = 5
JITTER = 3
FAR = IMAGE_SIDE - MARK - JITTER  # where the bottom-right mark's jitter range starts (20)
ADDITIVE_CEILING = 0.75
TRAIN_IMAGES, TEST_IMAGES = 2000, 1000
EPOCHS = 5


def _marks() -> torch.Tensor:
    """The two shapes, ``uint8 [2, 5, 5]``: a plus and a cross, 9 ink pixels each."""
    plus = torch.zeros(MARK, MARK, dtype=torch.uint8)
    plus[MARK // 2, :] = plus[:, MARK // 2] = 255
    cross = torch.zeros(MARK, MARK, dtype=torch.uint8)
    i = torch.arange(MARK)
    cross[i, i] = cross[i, MARK - 1 - i] = 255
    return torch.stack([plus, cross])


MARKS = _marks()
SHAPES = ("plus", "cross")


def min_window() -> int:
    """The side of the smallest square window that can hold a pixel of each mark.

    The top-left mark reaches at most row (and column) ``MARK + JITTER - 1``; the
    bottom-right one starts at least at :data:`FAR`. A unit whose receptive field is
    narrower never sees both.
    """
    return FAR - (MARK + JITTER - 1) + 1


def draw(shapes: torch.Tensor, offsets: torch.Tensor) -> Split:
    """Draw one image per row of ``shapes`` and ``offsets``, labelled same (1) or different (0).

    Args:
        shapes: ``int64 [n, 2]``, the shape (0: plus, 1: cross) of the top-left and the
            bottom-right mark.
        offsets: ``int64 [n, 4]`` in ``[0, JITTER]``: the top-left mark's row and column
            offsets from the corner, then the bottom-right mark's from :data:`FAR`.
    """
    n = len(shapes)
    if shapes.shape != (n, 2) or offsets.shape != (n, 4):
        raise ConfigError(f"shapes {tuple(shapes.shape)}, offsets {tuple(offsets.shape)}: "
                          "need [n, 2] and [n, 4]")  # fmt: skip
    if n and not 0 <= int(offsets.min()) <= int(offsets.max()) <= JITTER:
        raise ConfigError(f"offsets: must lie in [0, {JITTER}]")
    images = torch.zeros(n, IMAGE_SIDE, IMAGE_SIDE, dtype=torch.uint8)
    for k in range(n):
        r, c = offsets[k, :2].tolist()
        images[k, r : r + MARK, c : c + MARK] = MARKS[shapes[k, 0]]
        r, c = (FAR + offsets[k, 2:]).tolist()
        images[k, r : r + MARK, c : c + MARK] = MARKS[shapes[k, 1]]
    return Split(images, (shapes[:, 0] == shapes[:, 1]).long())


def make_pairs(n: int, seed: int) -> Split:
    """Draw ``n`` images with two marks and their labels (1: same shape, 0: different).

    Each mark's shape is drawn independently (so about half the images are "same") and
    each mark moves by its own random offset in ``[0, JITTER]`` down and right. The same
    ``n`` and ``seed`` give the same images.
    """
    if n < 1:
        raise ConfigError(f"n={n}: draw at least one image")
    g = torch.Generator().manual_seed(seed)
    shapes = torch.randint(0, 2, (n, 2), generator=g)
    offsets = torch.randint(0, JITTER + 1, (n, 4), generator=g)
    return draw(shapes, offsets)


def examples() -> tuple[Split, list[tuple[float, float]]]:
    """One image of each of the four shape pairs (plus/plus, plus/cross, cross/plus,
    cross/cross), the top-left mark in the corner, and the (row, column) of each image's
    top-left mark centre, for figures."""
    shapes = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    offsets = torch.tensor([[0, 0, 1, 2], [2, 1, 0, 3], [1, 3, 2, 0], [3, 2, 3, 1]])
    centres = [(float(r) + MARK // 2, float(c) + MARK // 2) for r, c in offsets[:, :2].tolist()]
    return draw(shapes, offsets), centres


class MarkNet(nn.Sequential):
    """``layers`` blocks of 3 x 3 convolution and ReLU, then an averaging or a dense head.

    Convolutions keep the 28 x 28 side ("same" padding, stride 1, no pooling), so the
    receptive field after ``layers`` blocks is ``2 * layers + 1`` pixels. Their weights
    start from He initialisation :cite:`he2015delving`, which keeps the marks' signal
    from fading through the layers.

    Args:
        head: ``"average"`` (1 x 1 convolution to class votes, averaged over the image) or
            ``"dense"`` (flatten, a dense layer of ``hidden`` units, ReLU, classifier).
        layers: convolution blocks.
        channels: channels of every convolution.
        hidden: units of the dense head.
        classes: outputs.
    """

    def __init__(
        self,
        head: str = "average",
        layers: int = 2,
        channels: int = 8,
        hidden: int = 64,
        classes: int = 2,
    ) -> None:
        if layers < 1:
            raise ConfigError(f"layers={layers}: needs at least one convolution")
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        cin = 1
        for i in range(1, layers + 1):
            conv = nn.Conv2d(cin, channels, 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            blocks[f"conv{i}"], blocks[f"relu{i}"] = conv, nn.ReLU()
            cin = channels
        if head == "average":
            blocks["votes"] = nn.Conv2d(channels, classes, 1)  # [B, classes, 28, 28]
            blocks["average"] = nn.AdaptiveAvgPool2d(1)  # [B, classes, 1, 1]
            blocks["flatten"] = nn.Flatten()
        elif head == "dense":
            blocks["flatten"] = nn.Flatten()  # [B, channels * 784]
            blocks["fc1"] = nn.Linear(channels * IMAGE_SIDE * IMAGE_SIDE, hidden)
            blocks["relu"] = nn.ReLU()
            blocks["fc2"] = nn.Linear(hidden, classes)
        else:
            raise ConfigError(f"head={head!r}: choose 'average' or 'dense'")
        super().__init__(blocks)


def decision_field(model: nn.Module) -> int:
    """The widest window of pixels that any one term of the model's decision depends on.

    Computed with :func:`fmnist_edu.summary.summarize`. For a model that averages
    per-position votes (a global average pool), it is the receptive field of one vote, the
    layer just before the average; otherwise the field of the last layer (a dense layer
    sees the whole image, 28).
    """
    rows = summary.summarize(model)
    for before, row in zip(rows, rows[1:], strict=False):
        if row.kind in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
            return before.receptive_field
    return rows[-1].receptive_field


def _mlp() -> nn.Module:
    return models.MLP(num_classes=2)


#: The models compared, by name: the two heads on the same convolutions, and the book's MLP.
MODELS = {
    "fully convolutional": lambda: MarkNet("average"),
    "dense head": lambda: MarkNet("dense"),
    "MLP": _mlp,
}


def train_model(name: str, train_split: Split, seed: int) -> nn.Module:
    """Build ``MODELS[name]`` from ``seed`` and train it with the book's loop.

    :data:`EPOCHS` epochs, batches of 64, Adam at 0.003, no validation split, on one CPU
    thread (:func:`fmnist_edu.beyond.fit.one_thread`); returns the trained model in eval
    mode.
    """
    if name not in MODELS:
        raise ConfigError(f"model {name!r}: choose one of {', '.join(MODELS)}")
    torch.manual_seed(seed)
    model = MODELS[name]()
    with fitting.one_thread():
        training.train(
            model, train_split, None, EPOCHS, batch_size=64, lr=3e-3, seed=seed, progress=False
        )
    return model


def majority_share(model: nn.Module, split: Split) -> tuple[int, float]:
    """The class ``model`` predicts most often on ``split`` and the share of images it
    predicts it for (1.0: the model answers the same class for every image)."""
    predicted = training.predict(model, split).cpu()
    counts = torch.bincount(predicted, minlength=2)
    return int(counts.argmax()), float(counts.max()) / len(predicted)
