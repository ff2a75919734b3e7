"""Estimate the Inductive bias chapter's cost under the full profile on the full data.

Times a few short runs on made-up data of the full release's size (60,000 training and
10,000 test images: the cost does not depend on the pixels), fits the cost of one run as
``epochs * (steps_per_epoch * step + epoch_overhead)`` from runs that never validate
(``validate="none"``, as the sample-efficiency runs), adds the validation of 6,000 images
after every epoch of the runs that validate (timed as a share of predicting the 10,000 test
images), and adds up the chapter's runs:

- the plain MLP and CNN (shared with the Architectures chapter) and their shift-augmented
  twins, 5 seeds x 10 epochs on 54,000 images;
- the sample-efficiency study: 100 ... 2,000 images, each run seeing 540,000 images;
- the predictions on the test images moved 0 to 4 pixels (17 offsets) and unmoved.

Usage: ``python benchmarks/bench_inductive_full.py [cpu|cuda] [threads] [train images]``;
prints JSON. A smaller release (the third argument) only checks that the script runs.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fmnist_edu import data, experiments, inductive, settings, training
from fmnist_edu.experiments import Experiment
from fmnist_edu.store import ResultStore

FULL = settings.PROFILES["full"]


def _write_release(folder: Path, n_train: int = 60_000, n_test: int = 10_000) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        image_name, label_name = data.IDX_FILES[split]
        (folder / image_name).write_bytes(struct.pack(">4I", 2051, n, 28, 28) + images.tobytes())
        (folder / label_name).write_bytes(struct.pack(">2I", 2049, n) + labels.tobytes())


def _seconds(experiment: Experiment, dataset, store, device) -> float:
    start = time.perf_counter()
    experiments.run(experiment, dataset, store, device=device, progress=False)
    return time.perf_counter() - start


def main() -> None:
    device = torch.device(sys.argv[1] if len(sys.argv) > 1 else settings.default_device().type)
    if len(sys.argv) > 2:
        torch.set_num_threads(int(sys.argv[2]))
    quick = device.type == "cpu"  # fewer epochs measured on a CPU
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_release(folder, *([int(sys.argv[3]), 1000] if len(sys.argv) > 3 else []))
        dataset = data.load(folder)
        store = ResultStore(folder / "store")
        available = len(experiments.prepare_splits(Experiment(), dataset)[0])
        batch = Experiment().batch_size
        report: dict[str, object] = {"device": str(device), "threads": torch.get_num_threads()}
        total = 0.0
        for model in ("mlp", "cnn"):
            quiet = {"model": model, "validate": "none"}  # the step and epoch cost alone
            _seconds(Experiment(**quiet, epochs=1, limit=1000), dataset, store, device)  # warm
            big_epochs, small_epochs = (1, 20) if quick else (2, 100)
            big = _seconds(Experiment(**quiet, epochs=big_epochs), dataset, store, device)
            small = _seconds(
                Experiment(**quiet, epochs=small_epochs, limit=100), dataset, store, device
            )
            aug = _seconds(
                Experiment(model=model, epochs=1, augment="shift"), dataset, store, device
            )
            steps_big = math.ceil(available / batch)
            # big / e = steps_big * step + overhead; small / e = 1 * step + overhead
            step = (big / big_epochs - small / small_epochs) / (steps_big - 1)
            overhead = max(small / small_epochs - step, 0.0)
            stored = experiments.run(Experiment(**quiet, epochs=big_epochs), dataset, store)
            net = stored.model().to(device)
            start = time.perf_counter()
            training.predict(net, dataset.test)
            predict = time.perf_counter() - start
            seeds = len(FULL.seeds)
            validation = predict * stored.val_images / len(dataset.test)  # 6,000 of 10,000
            plain = seeds * FULL.epochs * (steps_big * step + overhead + validation)
            augmented = seeds * FULL.epochs * aug
            sizes = 0.0
            for e in inductive.sample_efficiency_experiments(model, available, FULL.epochs)[:-1]:
                sizes += seeds * e.epochs * (math.ceil(e.limit / batch) * step + overhead)
            evaluations = (2 * seeds * 17 + seeds * 5) * predict
            report[model] = {
                "step_s": step,
                "epoch_overhead_s": overhead,
                "augmented_epoch_s": aug,
                "predict_10k_s": predict,
                "validation_epoch_s": validation,
                "plain_runs_s": plain,
                "augmented_runs_s": augmented,
                "sample_efficiency_s": sizes,
                "evaluations_s": evaluations,
            }
            total += plain + augmented + sizes + evaluations
        report["total_hours"] = total / 3600
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
