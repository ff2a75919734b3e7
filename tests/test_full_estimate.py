"""The full-build estimate scales the quick build's runs to the full profile and data."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

from fmnist_edu.store import ResultStore

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "full_estimate.py"
spec = importlib.util.spec_from_file_location("full_estimate", PATH)
estimate = importlib.util.module_from_spec(spec)
sys.modules["full_estimate"] = estimate  # dataclasses look their module up
spec.loader.exec_module(estimate)


def _entry(store: ResultStore, key: str, conv: bool, images: int, epochs: int) -> None:
    state = {"w": torch.zeros(2, 1, 3, 3) if conv else torch.zeros(2, 3)}
    history = {"epochs": [{}] * epochs}
    store.save(key, {"train_images": images, "history": history}, state)


def test_runs_scale_to_five_seeds_ten_epochs_and_the_full_split(tmp_path):
    store = ResultStore(tmp_path)
    _entry(store, "a", conv=True, images=3000, epochs=3)  # a profile run on the whole split
    _entry(store, "b", conv=False, images=3000, epochs=3)
    _entry(store, "c", conv=False, images=250, epochs=5)  # limit=250, its own epochs
    runs = estimate.stored_runs(tmp_path)
    assert sorted(runs, key=lambda r: r.family) == [
        estimate.Run("cnn", 3000, 3),
        estimate.Run("mlp", 3000, 3),
        estimate.Run("mlp", 250, 5),
    ]
    passes = estimate.full_passes(runs)
    scale = 54_000 * 10 / (3000 * 3)  # image passes of a full run / those of a quick run
    assert passes["cnn"] == (9000 * scale * 5 / 3, 9000 * scale)
    assert passes["mlp"] == ((9000 + 1250) * scale * 5 / 3, 9000 * scale)
    cpu = {"threads": 2, "cnn": {"images_per_s": 5000.0}, "mlp": {"images_per_s": 50000.0}}
    text = estimate.table(runs, cpu, None, [1000])
    cpu_seconds = 900_000 / 5000 + 1_025_000 / 50000  # 180 s + 20.5 s
    assert f"| {estimate.hours(cpu_seconds)} |" in text
    assert "| 1000 Dask workers, each a CPU machine as above | 2 min |" in text  # longest run
    per_core = estimate.table(runs, cpu, None, [], cores=2)
    assert f"| one 2-core machine, a run on each core | {estimate.hours(cpu_seconds / 2)} |" in (
        per_core
    )
    assert estimate.hours(3 * 3600 + 5 * 60) == "3 h 05 min"
