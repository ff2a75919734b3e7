"""An equal tuning budget for every model family, chosen by nested cross-validation.

A comparison of model families is only fair when each gets the same chance to be tuned.
Here each family gets :data:`CONFIGS` configurations (its :data:`GRIDS` entry), and each
model's score comes from *nested* cross-validation :cite:`cawley2010overfitting`:

1. the rows are split into :data:`FOLDS` stratified outer folds; each outer fold is
   predicted once, by a model that never saw it;
2. within the other folds, an inner :data:`INNER_FOLDS`-fold cross-validation scores
   every configuration, and the best (the first in grid order on a tie) is chosen;
3. the chosen configuration is trained on all the other folds and predicts the outer fold.

One *repeat* runs all of this once; repeat ``r`` splits the rows with ``random_state=r``
and starts the networks from seed ``r``. The trees are deterministic given their
training rows, so for them only the split changes between repeats. The networks of a
repeat train side by side in one :func:`fmnist_edu.beyond.bank.train_bank` call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits
from torch import nn

from fmnist_edu.beyond import bank
from fmnist_edu.beyond.tabular import FeatureCNN, FeatureMLP
from fmnist_edu.errors import ConfigError

FOLDS, INNER_FOLDS = 5, 3
CNN_CHANNELS = 4
#: Each family's configurations: every combination of its two settings (2 x 2 = 4 each).
GRIDS: dict[str, dict[str, tuple]] = {
    "networks": {"lr": (1e-2, 3e-2), "steps": (20, 50)},  # Adam, full-batch steps
    "trees": {"max_depth": (2, None), "rounds": (25, 75)},  # None: as deep as 31 leaves allow
}
CONFIGS = 4
TREE_LR = 0.1  # the trees' learning rate (scikit-learn's default)
#: The networks, by name: ``build(features, classes)``.
NETS: dict[str, Callable[[int, int], nn.Module]] = {
    "1-D CNN": lambda f, c: FeatureCNN(c, CNN_CHANNELS, head="dense", features=f),
    "1-D CNN, averaged": lambda f, c: FeatureCNN(c, CNN_CHANNELS, head="average"),
    "MLP": lambda f, c: FeatureMLP(f, c),
}
TREES = "boosted trees"


def configurations(family: str) -> list[dict]:
    """The :data:`CONFIGS` configurations of ``"networks"`` or ``"trees"``, in grid order."""
    grid = GRIDS[family]
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def describe(config: dict) -> str:
    """A configuration in words: ``"learning rate 0.01, 50 steps"`` or ``"depth 2, 25
    rounds"`` (``"depth unlimited"`` for no depth limit)."""
    words = {
        "lr": lambda v: f"learning rate {v:g}",
        "steps": lambda v: f"{v} steps",
        "max_depth": lambda v: f"depth {'unlimited' if v is None else v}",
        "rounds": lambda v: f"{v} rounds",
    }
    return ", ".join(words[key](value) for key, value in config.items())


@dataclass(frozen=True)
class Nested:
    """Nested cross-validation of one model on one column order.

    Attributes:
        correct: ``bool [repeats, rows]``, whether each row was classified correctly by
            the model of its outer fold, per repeat.
        chosen: the configuration chosen for each (repeat, outer fold), repeat-major.
    """

    correct: np.ndarray
    chosen: list[dict]


def outer_folds(y: np.ndarray, repeat: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (training rows, test rows) of each outer fold of ``repeat``."""
    split = StratifiedKFold(FOLDS, shuffle=True, random_state=repeat)
    return list(split.split(np.zeros(len(y)), y))


def _inner(y: np.ndarray, rows: np.ndarray, repeat: int) -> list[tuple[np.ndarray, np.ndarray]]:
    split = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=repeat)
    return [(rows[a], rows[b]) for a, b in split.split(np.zeros(len(rows)), y[rows])]


def nested(name: str, x: np.ndarray, y: np.ndarray, repeats: Sequence[int]) -> Nested:
    """Nested cross-validation of the model ``name`` (a key of :data:`NETS`, or
    :data:`TREES`) on rows ``x`` (``[N, F]``, columns in the order to test) and classes
    ``y`` (``0..C-1``), once per repeat."""
    if name == TREES:
        return _nested_trees(x, y, repeats)
    if name not in NETS:
        raise ConfigError(f"model {name!r}: choose one of {', '.join([*NETS, TREES])}")
    return _nested_net(NETS[name], x, y, repeats)


def _choose(scores: np.ndarray, configs: list[dict]) -> dict:
    """The configuration with the best mean inner score (scores ``[inner, configs]``)."""
    return configs[int(np.argmax(scores.mean(0)))]  # argmax: the first of equals


def _nested_net(build: Callable, x: np.ndarray, y: np.ndarray, repeats: Sequence[int]) -> Nested:
    n, f = x.shape
    classes = int(y.max()) + 1
    configs = configurations("networks")
    rates, steps = GRIDS["networks"]["lr"], list(GRIDS["networks"]["steps"])
    inputs, labels = torch.as_tensor(x), torch.as_tensor(y)
    folds = {r: outer_folds(y, r) for r in repeats}
    # Phase 1: every (repeat, outer fold, inner fold, rate); all step counts at once.
    members, masks = [], []
    for r in repeats:
        for o, (train, _) in enumerate(folds[r]):
            for i, (fit_rows, _) in enumerate(_inner(y, train, r)):
                for lr in rates:
                    members.append((r, o, i, lr))
                    masks.append(_mask(n, fit_rows))
    predicted = _train(build, f, classes, inputs, labels, masks, members, steps)
    right = (predicted == labels).numpy()  # [steps, members, N]
    chosen = []
    for r in repeats:
        for o, (train, _) in enumerate(folds[r]):
            scores = np.zeros((INNER_FOLDS, len(configs)))
            for i, (_, val) in enumerate(_inner(y, train, r)):
                for c, config in enumerate(configs):
                    k = members.index((r, o, i, config["lr"]))
                    scores[i, c] = right[steps.index(config["steps"]), k, val].mean()
            chosen.append(_choose(scores, configs))
    # Phase 2: each (repeat, outer fold) trains its chosen configuration on all its rows.
    refits = [(r, o, 0, chosen[j]["lr"]) for j, (r, o) in enumerate(_pairs(folds))]
    masks = [_mask(n, folds[r][o][0]) for r, o in _pairs(folds)]
    predicted = _train(build, f, classes, inputs, labels, masks, refits, steps)
    correct = np.zeros((len(repeats), n), dtype=bool)
    for j, (r, o) in enumerate(_pairs(folds)):
        test = folds[r][o][1]
        guess = predicted[steps.index(chosen[j]["steps"]), j, test].numpy()
        correct[list(repeats).index(r), test] = guess == y[test]
    return Nested(correct, chosen)


def _pairs(folds: dict[int, list]) -> list[tuple[int, int]]:
    return [(r, o) for r in folds for o in range(len(folds[r]))]


def _mask(n: int, rows: np.ndarray) -> torch.Tensor:
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.as_tensor(rows)] = True
    return mask


def _train(build, features, classes, inputs, labels, masks, members, steps) -> torch.Tensor:
    rows = torch.stack(masks)
    return bank.train_bank(
        lambda: build(features, classes),
        bank.standardized(inputs, rows),
        labels,
        rows,
        seeds=[m[0] for m in members],
        lrs=[m[3] for m in members],
        checkpoints=steps,
    )


def _trees(depth: int | None, rounds: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=TREE_LR, max_iter=rounds, max_depth=depth, early_stopping=False
    )


def _staged(depth, rounds, x, y, fit_rows, rows) -> dict[int, np.ndarray]:
    """Fit once with the most rounds; predictions of ``rows`` after each wanted count."""
    model = _trees(depth, max(rounds)).fit(x[fit_rows], y[fit_rows])
    stages = list(model.staged_predict(x[rows]))
    return {k: stages[k - 1] for k in rounds}


def _nested_trees(x: np.ndarray, y: np.ndarray, repeats: Sequence[int]) -> Nested:
    configs = configurations("trees")
    depths, rounds = GRIDS["trees"]["max_depth"], GRIDS["trees"]["rounds"]
    correct = np.zeros((len(repeats), len(y)), dtype=bool)
    chosen = []
    with threadpool_limits(1):  # tiny tables: threads only wait
        for j, r in enumerate(repeats):
            for train, test in outer_folds(y, r):
                scores = np.zeros((INNER_FOLDS, len(configs)))
                for i, (fit_rows, val) in enumerate(_inner(y, train, r)):
                    staged = {d: _staged(d, rounds, x, y, fit_rows, val) for d in depths}
                    for c, config in enumerate(configs):
                        guess = staged[config["max_depth"]][config["rounds"]]
                        scores[i, c] = (guess == y[val]).mean()
                best = _choose(scores, configs)
                chosen.append(best)
                model = _trees(best["max_depth"], best["rounds"]).fit(x[train], y[train])
                correct[j, test] = model.predict(x[test]) == y[test]
    return Nested(correct, chosen)
