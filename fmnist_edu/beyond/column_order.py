"""Does a model's accuracy on a table depend on the order of its columns?

:func:`order_study` scores every model by nested cross-validation
(:func:`fmnist_edu.beyond.tuning.nested`) on the table's own column order and on shuffled
orders, once per *repeat* (repeat ``r`` splits the rows into folds with
``random_state=r`` and starts the networks from seed ``r``; the same for every order, so
orders are compared on the same folds). :func:`order_test` asks whether the spread between
orders exceeds the spread between repeats. :func:`p_text` writes every p-value of the
chapter one way, and :func:`verdict` says what a comparison's interval is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy import stats

from fmnist_edu.beyond import tuning
from fmnist_edu.beyond.tabular import Table, column_orders
from fmnist_edu.comparison import Comparison, compare

MODELS = ("1-D CNN", "MLP", tuning.TREES)
ALPHA = 0.05


def p_text(p: float | None) -> str:
    """A p-value as the chapter writes it: ``"p = 0.003"``, ``"p < 0.001"``, or, without a
    test (``None``), ``"no test"``. The spaces are non-breaking, so a narrow table column
    never splits ``p`` from its value."""
    if p is None:
        return "no test"
    if not 0 <= p <= 1:
        raise ValueError(f"p={p}: a p-value lies in [0, 1]")
    text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return text.replace(" ", "\u00a0")


@dataclass
class OrderStudy:
    """Nested cross-validated correctness of each model, per column order and repeat.

    ``correct[name]`` is ``bool [orders, repeats, rows]``; order 0 is the table's own.
    ``chosen[name][o]`` lists the configuration chosen for each (repeat, outer fold).
    """

    table: Table
    orders: list[np.ndarray]
    repeats: tuple[int, ...]
    correct: dict[str, torch.Tensor] = field(default_factory=dict)
    chosen: dict[str, list[list[dict]]] = field(default_factory=dict)

    def accuracy(self, name: str) -> np.ndarray:
        """Accuracy per order and repeat: ``float [orders, repeats]``."""
        return self.correct[name].double().mean(2).numpy()


def order_study(
    table: Table,
    repeats: tuple[int, ...],
    shuffles: int = 2,
    models: tuple[str, ...] = MODELS,
    jobs: int = 1,
) -> OrderStudy:
    """Score each model by nested cross-validation on the table's own column order and on
    ``shuffles`` shuffled orders (:func:`fmnist_edu.beyond.tabular.column_orders`), once
    per repeat.

    ``jobs`` processes share the (model, order) runs; each run seeds itself, so the
    result does not depend on ``jobs``.
    """
    study = OrderStudy(table, column_orders(table.x.shape[1], shuffles), tuple(repeats))
    tasks = [(name, o) for name in models for o in study.orders]
    runs = Parallel(n_jobs=jobs)(
        delayed(tuning.nested)(name, table.x[:, o], table.y, study.repeats) for name, o in tasks
    )
    for i, name in enumerate(models):
        mine = runs[i * len(study.orders) : (i + 1) * len(study.orders)]
        study.correct[name] = torch.as_tensor(np.stack([r.correct for r in mine]))
        study.chosen[name] = [r.chosen for r in mine]
    return study


def most_chosen(chosen: list[dict]) -> tuple[dict, float]:
    """The configuration chosen most often (the first on a tie) and its share of choices."""
    keys = [tuple(sorted(c.items(), key=lambda kv: kv[0])) for c in chosen]
    best = max(dict.fromkeys(keys), key=keys.count)
    return dict(best), keys.count(best) / len(keys)


def block_anova(per_run: np.ndarray) -> float | None:
    """p-value of the order effect in accuracies ``[orders, repeats]``.

    A two-way analysis of variance without interaction: the orders are the treatment and
    the repeats the blocks (every order of a repeat used the same folds and seed, so a
    repeat that is easy for one order tends to be easy for all). ``None`` with a single
    repeat; 1.0 when nothing varies; 0.0 when the orders differ and nothing else does.
    """
    x = np.asarray(per_run, dtype=float)
    orders, repeats = x.shape
    if repeats < 2 or orders < 2:
        return None
    mean = x.mean()
    ss_order = repeats * ((x.mean(1) - mean) ** 2).sum()
    ss_block = orders * ((x.mean(0) - mean) ** 2).sum()
    ss_rest = max(((x - mean) ** 2).sum() - ss_order - ss_block, 0.0)
    df_order, df_rest = orders - 1, (orders - 1) * (repeats - 1)
    if ss_rest <= 1e-15:
        return 1.0 if ss_order <= 1e-15 else 0.0
    return float(stats.f.sf((ss_order / df_order) / (ss_rest / df_rest), df_order, df_rest))


@dataclass(frozen=True)
class OrderTest:
    """Does a model's cross-validated accuracy depend on the column order?

    Attributes:
        name: the model.
        accuracy: mean accuracy per order (order 0: the table's own), ``float [orders]``.
        p_value: :func:`block_anova` of the accuracies per order and repeat: the chance
            of a spread between orders at least this large if the order changed nothing.
        largest: :func:`fmnist_edu.comparison.compare` of the shuffled order whose
            accuracy differs most from the table's own, against it (bootstrap over repeats
            and rows). If even that one is within noise, every order is.
        changed_rows: rows that the first repeat classified correctly in some orders and
            wrongly in others.
    """

    name: str
    accuracy: np.ndarray
    p_value: float | None
    largest: Comparison
    changed_rows: int

    @property
    def beyond_noise(self) -> bool:
        """True when the order matters beyond noise: p < :data:`ALPHA` (with one repeat,
        when the largest difference's interval excludes zero)."""
        if self.p_value is not None:
            return self.p_value < ALPHA
        return not self.largest.within_noise


def order_test(study: OrderStudy, name: str) -> OrderTest:
    """Test whether ``name``'s accuracy in ``study`` changes with the column order."""
    correct = study.correct[name]  # [orders, repeats, rows]
    per_run = study.accuracy(name)
    accuracy = per_run.mean(1)
    k = 1 + int(np.argmax(np.abs(accuracy[1:] - accuracy[0])))
    first = correct[:, 0]  # [orders, rows]
    changed = int((first != first[0]).any(0).sum())
    return OrderTest(name, accuracy, block_anova(per_run), compare(correct[k], correct[0]), changed)


def verdict(c: Comparison, name_a: str, name_b: str) -> str:
    """One sentence on a comparison of cross-validated models, naming what its interval is
    over: the repeats of cross-validation (new folds; for networks, a new seed) and the
    table's rows, both resampled by the bootstrap of :func:`fmnist_edu.comparison.compare`.
    """
    interval = (
        (
            f"{c.confidence:.0%} interval {100 * c.low:+.1f} to {100 * c.high:+.1f} points, "
            f"resampling the {c.a.n} repeats of cross-validation and the {c.test_images:,} rows"
        )
        .replace("+0.0 ", "0.0 ")
        .replace("-0.0 ", "0.0 ")
    )
    points = f"{100 * abs(c.difference):.1f}"
    if c.within_noise:
        return (f"the {points}-point difference between the {name_a} and the {name_b} is "
                f"within noise ({interval}, which contains zero)")  # fmt: skip
    winner, loser = (name_a, name_b) if c.a_better else (name_b, name_a)
    return (f"the {winner} beats the {loser} by {points} points ({name_a} minus {name_b}: "
            f"{interval}, which excludes zero)")  # fmt: skip
