"""Tabular data: a row of measurements has no layout, so the column order means nothing.

A table's columns can be listed in any order; which columns sit side by side is an
accident of how the file was written. A convolution assumes the opposite: that neighbours
belong together. This module compares, on a real table bundled with scikit-learn (no
download), three models under several column orders:

- :class:`FeatureCNN`, a 1-D CNN over the feature vector, with the two assumptions of the
  book's CNN: locality (each unit sees :data:`KERNEL_SIZE` neighbouring columns) and
  weight sharing (the same kernel slides along the row), ending in a global average, as a
  fully convolutional network does. Reorder the columns and it sees other neighbours.
- :class:`FeatureMLP`, a dense network: reordering the columns relabels its first layer's
  weights (see :mod:`fmnist_edu.permutation`), so only its random start changes.
- gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``), which
  split on one column at a time wherever it is.

Scores are cross-validated (:func:`cv_correct`): every row is predicted once by a model
that did not train on it, so a model's score per order and seed is one prediction per row,
ready for :func:`fmnist_edu.comparison.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from fmnist_edu.beyond import fit as fitting
from fmnist_edu.comparison import Comparison, compare
from fmnist_edu.errors import ConfigError

TABLES = {"wine": load_wine, "breast_cancer": load_breast_cancer}
MODELS = ("1-D CNN", "MLP", "boosted trees")
KERNEL_SIZE = 3
MLP_HIDDEN = 32
FOLDS = 5
FOLD_SEED = 0  # the same folds for every model, order and seed: differences are paired
STEPS = 100  # full-batch Adam steps: the tables hold a few hundred rows


@dataclass(frozen=True)
class Table:
    """A table of numeric features and one class per row."""

    name: str
    x: np.ndarray  # float64 [rows, features]
    y: np.ndarray  # int64 [rows]
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]


def load_table(name: str = "wine") -> Table:
    """Load one of scikit-learn's bundled tables, ``"wine"`` or ``"breast_cancer"``.

    Wine: 178 wines grown in one region of Italy, 13 chemical measurements each, and
    which of 3 cultivars it came from :cite:`aeberhard1994wine`. Breast cancer: 569
    tumours, 30 measurements of their cell nuclei, malignant or benign.
    """
    if name not in TABLES:
        raise ConfigError(f"table {name!r}: choose one of {', '.join(TABLES)}")
    bunch = TABLES[name]()
    return Table(
        name,
        np.asarray(bunch.data, dtype=np.float64),
        np.asarray(bunch.target, dtype=np.int64),
        tuple(bunch.feature_names),
        tuple(bunch.target_names),
    )


class FeatureCNN(nn.Module):
    """A 1-D CNN over the feature vector: conv -> ReLU -> conv -> ReLU -> average -> linear.

    Args:
        classes: outputs.
        channels: channels of both convolutions.
        kernel_size: neighbouring columns each convolution looks at (odd, "same" padding).
        head: ``"average"`` (a global average over the columns, then a linear layer: the
            fully convolutional form) or ``"dense"`` (a linear layer over all positions'
            channels, like the head of the book's CNN; it needs ``features``).
        features: columns of the table (only the dense head needs it).
    """

    def __init__(
        self,
        classes: int,
        channels: int = 8,
        kernel_size: int = KERNEL_SIZE,
        head: str = "average",
        features: int | None = None,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size={kernel_size}: must be odd ('same' padding)")
        pad = kernel_size // 2
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, kernel_size, padding=pad),
            nn.ReLU(),
            nn.Conv1d(channels, channels, kernel_size, padding=pad),
            nn.ReLU(),
        )  # [B, 1, F] -> [B, channels, F]
        if head == "average":  # [B, channels, F] -> [B, channels] -> [B, classes]
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(channels, classes)
            )
        elif head == "dense":
            if features is None:
                raise ConfigError("head='dense' needs the number of features")
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * features, classes))
        else:
            raise ConfigError(f"head={head!r}: choose 'average' or 'dense'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map rows ``[B, F]`` to logits ``[B, classes]``."""
        return self.head(self.features(x.unsqueeze(1)))


class FeatureMLP(nn.Sequential):
    """A dense network ``F -> hidden -> classes`` with ReLU."""

    def __init__(self, features: int, classes: int, hidden: int = MLP_HIDDEN) -> None:
        super().__init__(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier around :class:`FeatureCNN` or :class:`FeatureMLP`.

    It lets the torch models go through scikit-learn's pipelines and cross-validation
    like the trees. ``fit`` builds the model from ``seed`` and trains it full-batch
    (:data:`STEPS` Adam steps on all rows) with :func:`fmnist_edu.beyond.fit.fit`.

    Args:
        model: ``"cnn"`` or ``"mlp"``.
        head: the CNN's head (see :class:`FeatureCNN`).
        steps: Adam steps.
        lr: Adam's learning rate.
        seed: seeds the initial weights.
    """

    def __init__(  # scikit-learn's convention: store the arguments as they are
        self, model: str = "cnn", head: str = "average", steps: int = STEPS, lr: float = 1e-2,
        seed: int = 0,
    ) -> None:  # fmt: skip
        self.model, self.head, self.steps, self.lr, self.seed = model, head, steps, lr, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> TorchClassifier:
        """Train a fresh model on rows ``x`` (``[N, F]``) and classes ``y``."""
        self.classes_, codes = np.unique(y, return_inverse=True)
        features, classes = x.shape[1], len(self.classes_)
        torch.manual_seed(self.seed)
        if self.model == "cnn":
            self.net_ = FeatureCNN(classes, head=self.head, features=features)
        elif self.model == "mlp":
            self.net_ = FeatureMLP(features, classes)
        else:
            raise ConfigError(f"model={self.model!r}: choose 'cnn' or 'mlp'")
        inputs = torch.as_tensor(x, dtype=torch.float32)
        labels = torch.as_tensor(codes, dtype=torch.int64)
        fitting.fit(self.net_, inputs, labels, self.steps, len(x), self.lr, self.seed)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict the class of every row of ``x``."""
        predicted = fitting.predict(self.net_, torch.as_tensor(x, dtype=torch.float32))
        return self.classes_[predicted.numpy()]


def estimator(name: str, seed: int, head: str = "average") -> BaseEstimator:
    """The scikit-learn estimator for one of :data:`MODELS`, seeded.

    The networks standardise every column on the training folds first; the trees need
    no scaling. The trees here are deterministic (no early stopping, no subsampling on
    tables this small), so their ``seed`` changes nothing.
    """
    if name == "1-D CNN":
        return make_pipeline(StandardScaler(), TorchClassifier("cnn", head=head, seed=seed))
    if name == "MLP":
        return make_pipeline(StandardScaler(), TorchClassifier("mlp", seed=seed))
    if name == "boosted trees":
        return HistGradientBoostingClassifier(early_stopping=False, random_state=seed)
    raise ConfigError(f"model {name!r}: choose one of {', '.join(MODELS)}")


def cv_correct(model: BaseEstimator, table: Table, order: np.ndarray) -> np.ndarray:
    """Cross-validate ``model`` on the table's columns listed in ``order``.

    Returns ``bool [rows]``: whether each row was classified correctly by the model
    trained on the other folds (:data:`FOLDS` stratified folds, the same for every call).
    Runs on one CPU thread.
    """
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=FOLD_SEED)
    with threadpool_limits(1), fitting.one_thread():  # tiny tables: threads only wait
        predicted = cross_val_predict(model, table.x[:, order], table.y, cv=folds)
    return predicted == table.y


def column_orders(features: int, shuffles: int, seed: int = 0) -> list[np.ndarray]:
    """The original column order followed by ``shuffles`` random orders (seeded)."""
    rng = np.random.default_rng(seed)
    return [np.arange(features)] + [rng.permutation(features) for _ in range(shuffles)]


@dataclass
class OrderStudy:
    """Cross-validated correctness of each model, per column order and seed.

    ``correct[name]`` is ``bool [orders, seeds, rows]``; order 0 is the table's own order.
    Deterministic models (the trees) are fitted once per order: one seed row.
    """

    table: Table
    orders: list[np.ndarray]
    seeds: tuple[int, ...]
    correct: dict[str, torch.Tensor] = field(default_factory=dict)

    def accuracy(self, name: str) -> np.ndarray:
        """Mean accuracy per order (over seeds and rows): ``float [orders]``."""
        return self.correct[name].double().mean((1, 2)).numpy()


def order_study(
    table: Table,
    seeds: tuple[int, ...],
    shuffles: int = 3,
    models: tuple[str, ...] = MODELS,
    head: str = "average",
) -> OrderStudy:
    """Cross-validate each model on the original and ``shuffles`` shuffled column orders.

    Each network is trained once per order, seed and fold; the trees once per order and
    fold.
    """
    study = OrderStudy(table, column_orders(table.x.shape[1], shuffles), tuple(seeds))
    for name in models:
        runs = study.seeds[:1] if name == "boosted trees" else study.seeds
        study.correct[name] = torch.stack(
            [
                torch.stack(
                    [torch.as_tensor(cv_correct(estimator(name, s, head), table, o)) for s in runs]
                )  # fmt: skip
                for o in study.orders
            ]
        )
    return study


@dataclass(frozen=True)
class OrderTest:
    """Does a model's cross-validated accuracy depend on the column order?

    Attributes:
        name: the model.
        accuracy: mean accuracy per order (order 0: the table's own), ``float [orders]``.
        p_value: a one-way analysis of variance over the orders, with the seeds of each
            order as its replicates: the chance of a spread between orders at least this
            large if the order changed nothing and only the seed mattered. ``None`` for a
            deterministic model (one run per order: no seed noise to compare with).
        largest: :func:`fmnist_edu.comparison.compare` of the shuffled order whose
            accuracy differs most from the original's, against the original (over seeds
            and rows). If even that one is within noise, every order is.
        changed_rows: rows that the first seed's model classified correctly in some
            orders and wrongly in others.
    """

    name: str
    accuracy: np.ndarray
    p_value: float | None
    largest: Comparison
    changed_rows: int

    @property
    def beyond_noise(self) -> bool:
        """True when the order matters beyond noise: ANOVA p < 0.05 (or, for a
        deterministic model, the largest difference's interval excludes zero)."""
        if self.p_value is not None:
            return self.p_value < 0.05
        return not self.largest.within_noise


def order_test(study: OrderStudy, name: str) -> OrderTest:
    """Test whether ``name``'s accuracy in ``study`` changes with the column order."""
    correct = study.correct[name]  # [orders, seeds, rows]
    per_run = correct.double().mean(2).numpy()  # [orders, seeds]
    accuracy = per_run.mean(1)
    p_value = None
    if per_run.shape[1] > 1 and per_run.std(1).max() > 0:
        p_value = float(stats.f_oneway(*per_run).pvalue)
    k = 1 + int(np.argmax(np.abs(accuracy[1:] - accuracy[0])))
    first_seed = correct[:, 0]  # [orders, rows]
    changed = int((first_seed != first_seed[0]).any(0).sum())
    return OrderTest(name, accuracy, p_value, compare(correct[k], correct[0]), changed)
