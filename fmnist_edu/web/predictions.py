"""The widgets' test images, with the predictions PyTorch makes for them at build time.

The site's image picker offers :data:`PER_CLASS` test images of every class (the first
of each class in the test file's order). For each, the build records both models' ten
class probabilities, as PyTorch computes them, for the image as it is and moved
:data:`CHECK_SHIFT` pixels (the shift widget's +3 px): the browser test compares what the
widgets compute in the page with these numbers.
"""

from __future__ import annotations

from typing import Any

import torch

from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.equivariance import SHIFTS
from fmnist_edu.training import to_inputs
from fmnist_edu.transforms import shift

PER_CLASS = 2
CHECK_SHIFT = (0, 3)
"""``(dy, dx)``: the move whose predictions the build records (3 pixels to the right)."""
SHIFT_RANGE = max(SHIFTS)
"""The shift widget moves an image up to this many pixels each way, as far as the chapter's
shift curves go (:data:`fmnist_edu.equivariance.SHIFTS`)."""


def pick_images(split: Split, per_class: int = PER_CLASS) -> torch.Tensor:
    """Positions of the first ``per_class`` images of each class in ``split``, by class."""
    chosen = []
    for label in range(len(CLASS_NAMES)):
        where = torch.nonzero(split.labels == label).flatten()[:per_class]
        chosen.extend(where.tolist())
    return torch.tensor(chosen, dtype=torch.long)


def probabilities(model: torch.nn.Module, images: torch.Tensor) -> list[list[float]]:
    """``model``'s class probabilities for ``uint8`` images ``[N, 28, 28]``, as lists."""
    with torch.inference_mode():
        logits = model.eval()(to_inputs(images).contiguous())
    return torch.softmax(logits, 1).tolist()


def image_records(images: Split, indices: torch.Tensor, models: dict[str, Any]) -> dict:
    """The picker's images and every model's probabilities for them (JSON-ready).

    ``models`` maps a model's name to its ``torch.nn.Module``.
    """
    return {
        "class_names": list(CLASS_NAMES),
        "indices": indices.tolist(),
        "labels": images.labels.tolist(),
        "pixels": images.images.reshape(len(images), -1).tolist(),
        "probabilities": {name: probabilities(m, images.images) for name, m in models.items()},
    }


def shift_records(images: Split, models: dict[str, Any], move: tuple[int, int] = CHECK_SHIFT):
    """Every model's probabilities for the images moved by ``move`` ``(dy, dx)`` (JSON-ready)."""
    moved = shift(images.images, *move)
    return {
        "range": SHIFT_RANGE,
        "move": {"dy": move[0], "dx": move[1]},
        "probabilities": {name: probabilities(m, moved) for name, m in models.items()},
    }
