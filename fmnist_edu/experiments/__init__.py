"""Experiments: a frozen configuration in, a cached :class:`Result` out.

``run(Experiment(model="cnn", epochs=5, seed=1))`` trains once, stores the result, and
answers every later identical request from the store. The book's models and your own
(:func:`fmnist_edu.models.register`) take the same path. Three modules:

- :mod:`~fmnist_edu.experiments.config`: :class:`Experiment`, checked when created;
- :mod:`~fmnist_edu.experiments.stored`: :class:`Result`, read back from the store and
  checked (:func:`cached`), or saved (:func:`save`);
- :mod:`~fmnist_edu.experiments.runner`: :func:`run`, :func:`run_seeds`, :func:`compute`,
  :func:`compute_seeds` (a design's seeds as one batched model)
  and the splits an experiment trains, validates and is tested on.
"""

from fmnist_edu.experiments.config import (
    CNN_FIELDS,
    LABELS,
    MAX_CONVS,
    MAX_LAYERS,
    MAX_SIDE,
    MAX_WIDTH,
    VALIDATION_SEED,
    Experiment,
)
from fmnist_edu.experiments.runner import (
    SeedSummary,
    batches,
    compute,
    compute_seeds,
    evaluation_split,
    prepare_splits,
    run,
    run_seeds,
    summarize_seeds,
)
from fmnist_edu.experiments.stored import Result, cached, save

__all__ = [
    "CNN_FIELDS",
    "LABELS",
    "MAX_CONVS",
    "MAX_LAYERS",
    "MAX_SIDE",
    "MAX_WIDTH",
    "VALIDATION_SEED",
    "Experiment",
    "Result",
    "SeedSummary",
    "batches",
    "cached",
    "compute",
    "compute_seeds",
    "evaluation_split",
    "prepare_splits",
    "run",
    "run_seeds",
    "save",
    "summarize_seeds",
]
