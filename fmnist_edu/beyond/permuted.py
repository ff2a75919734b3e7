"""Fashion-MNIST with its spatial structure destroyed: the experiments and their checks.

One fixed permutation of the 784 pixels (:data:`PERMUTATION`, see
:mod:`fmnist_edu.permutation`) is applied to every image. The MLP, the CNN and the MLP's
relabelled twin train on the permuted images through the book's experiment API
(``Experiment(permute=..., relabel=...)``), so every run is cached in the results store.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from fmnist_edu import permutation
from fmnist_edu.data import Split
from fmnist_edu.experiments import Experiment, Result
from fmnist_edu.settings import Profile
from fmnist_edu.training import predict, to_inputs

#: The seed of the one permutation used by the chapter.
PERMUTATION = 0
#: Training images per run, by profile. The quick profile trains on 1,000 (stratified by
#: class) so that a CI build stays within its time budget; the full profile trains on
#: every image, so its unpermuted runs are the Architectures chapter's.
TRAIN_LIMIT: dict[str, int | None] = {"quick": 1000, "full": None}


def chapter_experiments(profile: Profile) -> dict[str, Experiment]:
    """The five experiments of the chapter, by name, sized for ``profile``.

    ``"MLP"`` and ``"CNN"`` on the images as they are; ``"MLP, permuted"`` and ``"CNN,
    permuted"`` on the permuted images; ``"MLP, relabelled"``: the permuted MLP started
    from the unpermuted MLP's initial weights with its first layer relabelled.
    """
    limit = TRAIN_LIMIT.get(profile.name)
    base = {"epochs": profile.epochs, "limit": limit}
    return {
        "MLP": Experiment(model="mlp", **base),
        "MLP, permuted": Experiment(model="mlp", permute=PERMUTATION, **base),
        "MLP, relabelled": Experiment(model="mlp", permute=PERMUTATION, relabel=True, **base),
        "CNN": Experiment(model="cnn", **base),
        "CNN, permuted": Experiment(model="cnn", permute=PERMUTATION, **base),
    }


def initial_gap(seed: int, images: torch.Tensor) -> float:
    """The largest output difference between an untrained MLP and its relabelled twin.

    Builds the MLP that ``seed`` gives the experiments (the same draw of initial weights),
    and a copy with its first layer relabelled by :data:`PERMUTATION`; returns the largest
    absolute difference between the original's logits on ``images`` (``uint8 [N, 28, 28]``)
    and the twin's on the same images permuted. Only float rounding separates them.
    """
    torch.manual_seed(seed)  # as experiments.run does before building
    original = Experiment(model="mlp").build().eval()
    twin = copy.deepcopy(original)
    order = permutation.pixel_permutation(PERMUTATION)
    permutation.relabel_first_layer(twin, order)
    with torch.no_grad():
        a = original(to_inputs(images))
        b = twin(to_inputs(permutation.permute_pixels(images, order)))
    return float((a - b).abs().max())


def agreement(a: nn.Module, split_a: Split, b: nn.Module, split_b: Split) -> float:
    """Share of images on which model ``a`` (shown ``split_a``) and ``b`` (shown ``split_b``,
    the same images in the same order, perhaps permuted) predict the same class."""
    return float((predict(a, split_a) == predict(b, split_b)).double().mean())


@dataclass(frozen=True)
class TwinCheck:
    """How closely a trained relabelled twin follows the unpermuted run it started from.

    Attributes:
        max_weight_difference: the largest absolute difference between any trained
            weight of the twin and the unpermuted run's, relabelled.
        same_predictions: share of test images on which the two predict the same class
            (the twin shown the permuted images, the original the images as they are).
        accuracy_difference: twin's test accuracy minus the original's.
    """

    max_weight_difference: float
    same_predictions: float
    accuracy_difference: float


def twin_check(
    original: Result, twin: Result, plain_test: Split, permuted_test: Split
) -> TwinCheck:
    """Compare a relabelled run with its unpermuted original, weight by weight.

    ``plain_test`` and ``permuted_test`` are the test splits each was evaluated on (see
    :func:`fmnist_edu.experiments.evaluation_split`). The two start equal up to rounding;
    training amplifies rounding differences, so the longer the run, the larger they grow.
    """
    order = permutation.pixel_permutation(twin.experiment.permute)
    relabelled = permutation.relabel_first_layer(original.model(), order).state_dict()
    largest = max(
        float((weights - relabelled[name]).abs().max()) for name, weights in twin.state_dict.items()
    )
    return TwinCheck(
        max_weight_difference=largest,
        same_predictions=agreement(original.model(), plain_test, twin.model(), permuted_test),
        accuracy_difference=twin.test.accuracy - original.test.accuracy,
    )


def permuted_and_plain(images: torch.Tensor) -> torch.Tensor:
    """Stack ``images`` ``[n, 28, 28]`` and their permuted versions: ``[2n, 28, 28]``."""
    order = permutation.pixel_permutation(PERMUTATION)
    return torch.cat([images, permutation.permute_pixels(images, order)])
