"""BEFORE and AFTER issue 18 for ``bench_training.py``: the old paths, ``predict``, validation.

BEFORE is the CNN's modules run one by one in training (``CNN.fuse = False``), glibc's
default handling of freed memory (no :func:`fmnist_edu.training.keep_freed_memory`) and
``predict``'s old settings (the weights as read back from the store, batches of 1,024).
Measure BEFORE first: the memory setting, once made, holds for the whole process.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from functools import partial

import torch
from torch import nn

from fmnist_edu import data, inductive, models, training

FULL_FIT, FULL_VAL, FULL_EPOCHS = 54_000, 6_000, 10  # the full release, full profile
OLD_PREDICT_BATCH = 1024


@contextlib.contextmanager
def before() -> Iterator[None]:
    """Within the block, train and predict as before issue 18."""
    keep, fuse = training.keep_freed_memory, models.CNN.fuse
    training.keep_freed_memory = lambda: False
    models.CNN.fuse = False
    try:
        yield
    finally:
        training.keep_freed_memory, models.CNN.fuse = keep, fuse


@torch.no_grad()
def old_predict(model: nn.Module, split: data.Split) -> torch.Tensor:
    """``training.predict`` before issue 18: the weights as they come, batches of 1,024."""
    model.eval()
    out = [model(training.to_inputs(split.images[i : i + OLD_PREDICT_BATCH])).argmax(1)
           for i in range(0, len(split), OLD_PREDICT_BATCH)]  # fmt: skip
    return torch.cat(out)


def cpu_seconds(run: Callable[[], object], repeats: int = 3) -> float:
    """The least CPU time of ``repeats`` calls of ``run``, after one to warm up."""
    run()  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def predict_report(dataset: data.FashionMNIST, results: dict) -> None:
    """Print ``predict``'s CPU time on the test images BEFORE and AFTER, and whether the
    predicted classes are identical (BEFORE is measured first)."""
    split, figures = dataset.test, {}
    for name in ("mlp", "cnn"):
        training.seed_everything(0)
        trained = models.build_model(name)
        training.train(trained, dataset.train.subset(torch.arange(min(len(dataset.train), 512))),
                       epochs=1, progress=False, device="cpu")  # fmt: skip
        state = {k: v.contiguous() for k, v in trained.state_dict().items()}
        stored = models.build_model(name)  # as read back from the store
        stored.load_state_dict(state)
        with before():
            old_seconds = cpu_seconds(partial(old_predict, stored, split))
            old = old_predict(stored, split)
        new_seconds = cpu_seconds(partial(training.predict, stored, split))
        same = torch.equal(training.predict(stored, split), old)
        print(f"predict {name}: {len(split):,} test images, {torch.get_num_threads()} threads: "
              f"BEFORE {old_seconds * 1e3:6.0f} ms CPU | AFTER {new_seconds * 1e3:6.0f} ms CPU | "
              f"{old_seconds / new_seconds:.1f}x | identical classes: {same}")  # fmt: skip
        figures[name] = {"before_s": old_seconds, "after_s": new_seconds, "same_classes": same}
    results["predict"] = figures


def validation_report(
    dataset: data.FashionMNIST, results: dict, train_rate_of: Callable[[str], float]
) -> None:
    """Print the share of validation in a run's CPU time on the full release, BEFORE
    (every epoch) and AFTER (the sample-efficiency runs do not validate).

    ``train_rate_of(name)`` gives training images per CPU second; the evaluation rate is
    measured here (AFTER's ``predict``, for both). A run on few images steps on batches
    smaller than 128, a little slower per image, so the shares are upper bounds.
    """
    figures = {}
    for name in ("mlp", "cnn"):
        train_rate = train_rate_of(name)
        model = models.build_model(name)
        seconds = cpu_seconds(partial(training.evaluate, model, dataset.test, torch.device("cpu")))
        val_rate = len(dataset.test) / seconds
        val_epoch = FULL_VAL / val_rate
        full_epoch = FULL_FIT / train_rate
        sizes = [s for s in inductive.SAMPLE_SIZES if s < FULL_FIT]
        study = [(s, inductive.scaled_epochs(FULL_EPOCHS, FULL_FIT, s)) for s in sizes]
        fit = sum(e * s / train_rate for s, e in study)
        validate = sum(e for _, e in study) * val_epoch
        share_full = val_epoch / (full_epoch + val_epoch)
        hours = (fit + validate) / 3600
        print(f"validation {name}: {val_rate:,.0f} img/s evaluating, {train_rate:,.0f} img/s "
              f"training (1 CPU) | full-size epoch: validation {share_full:.0%} of its time | "
              f"sample-efficiency study ({len(study)} runs of 1 seed): BEFORE {hours:.2f} h, "
              f"{validate / (fit + validate):.0%} validating | "
              f"AFTER {fit / 3600:.2f} h")  # fmt: skip
        figures[name] = {
            "evaluate_images_per_s": val_rate,
            "train_images_per_s": train_rate,
            "full_epoch_share": share_full,
            "sample_efficiency_before_s": fit + validate,
            "sample_efficiency_after_s": fit,
            "sample_efficiency_share_before": validate / (fit + validate),
        }
    results["validation"] = figures
