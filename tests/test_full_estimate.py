"""The full-build estimate: a cold build's runs, their chapters, their size on the full
release, and what they cost on a runner, on Dask workers and batched."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
from pathlib import Path

import pytest
import torch

from fmnist_edu import inductive, report
from fmnist_edu.store import ResultStore

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))
import full_estimate  # noqa: E402
import workload  # noqa: E402

AVAILABLE = 3252  # training images of a whole run on the subset


def _entry(store: ResultStore, key: str, config: dict, images: int, epochs: int, when: float,
           validated: int = 0, cpu: float = 2.0) -> None:  # fmt: skip
    history = {"epochs": [{"val_accuracy": 0.5 if e < validated else None}
                          for e in range(epochs)]}  # fmt: skip
    metrics = {"train_images": images, "val_images": 361, "test_images": 1770,
               "train_seconds": 1.0, "history": history}  # fmt: skip
    store.save(key, metrics, {"w": torch.zeros(2)}, {"config": config, "cpu_seconds": cpu})
    os.utime(store.root / f"{key}.json", (when, when))


def _cache(folder: Path, pages: dict[str, tuple[float, float]]) -> Path:
    folder.mkdir()
    with sqlite3.connect(folder / "global.db") as conn:
        conn.execute("CREATE TABLE nbcache (uri TEXT, created DATETIME, data JSON)")
        for name, (start, end) in pages.items():
            created = f"1970-01-01 00:{int(end) // 60:02d}:{int(end) % 60:02d}.000000"
            data = json.dumps({"execution_seconds": end - start})
            conn.execute("INSERT INTO nbcache VALUES (?, ?, ?)", (f"/b/{name}.md", created, data))
    return folder


@pytest.fixture
def build(tmp_path):
    store = ResultStore(tmp_path / "store")
    cnn, mlp = {"model": "cnn", "epochs": 10}, {"model": "mlp", "epochs": 10}
    _entry(store, "a", cnn | {"seed": 0}, AVAILABLE, 10, when=100, validated=10)
    _entry(store, "b", cnn | {"seed": 1}, AVAILABLE, 10, when=110, validated=10)
    small = inductive.scaled_epochs(10, AVAILABLE, 100)
    _entry(store, "c", mlp | {"limit": 100, "epochs": small, "validate": "none"}, 100, small,
           when=200)  # fmt: skip
    _entry(store, "d", mlp | {"limit": 600, "epochs": 1}, 600, 1, when=210, validated=1)
    cache = _cache(tmp_path / "cache", {"architectures": (90, 150), "inductive_bias": (150, 250)})
    return store.root, cache


def test_runs_are_read_with_their_settings_chapters_and_full_size(build):
    store, cache = build
    runs = workload.assign_chapters(workload.sized(workload.stored_runs(store)),
                                    workload.page_windows(cache))  # fmt: skip
    assert [r.chapter for r in runs] == ["architectures"] * 2 + ["inductive_bias"] * 2
    whole, scaled, fixed = runs[0].full, runs[2].full, runs[3].full
    assert whole == {"train_images": 54_000, "epochs": 10, "train_passes": 540_000,
                     "val_passes": 60_000, "test_images": 10_000}  # fmt: skip
    assert scaled["epochs"] == math.ceil(10 * 54_000 / 100) and scaled["val_passes"] == 0
    assert (fixed["train_images"], fixed["epochs"], fixed["val_passes"]) == (600, 1, 6_000)
    assert runs[2].design == "mlp limit 100" and runs[0].rate_key == runs[1].rate_key


def test_a_store_without_run_records_is_one_clear_line(tmp_path):
    ResultStore(tmp_path).save("old", {"train_images": 1}, {"w": torch.zeros(1)})
    with pytest.raises(workload.WorkloadError, match="old.json.*no run record"):
        workload.stored_runs(tmp_path)
    with pytest.raises(workload.WorkloadError, match="no such results store"):
        workload.stored_runs(tmp_path / "absent")


def test_runs_pack_longest_first_on_the_least_loaded_core():
    assert full_estimate.packed([2, 5, 3, 4], 2) == 7  # {5, 2} and {4, 3}
    assert full_estimate.packed([10, 1, 1], 4) == 10  # never below the longest run
    assert full_estimate.packed([1.0] * 8, 4) == 2


def test_the_estimate_adds_chapters_and_costs_each_run_at_its_designs_rate(build):
    store, cache = build
    runs = workload.assign_chapters(workload.sized(workload.stored_runs(store)),
                                    workload.page_windows(cache))  # fmt: skip
    rates = {r.rate_key: {"train_images_per_s": 1000.0 if r.config["model"] == "cnn" else 9000.0,
                          "predict_images_per_s": 10_000.0} for r in runs}  # fmt: skip
    result = full_estimate.estimate(runs, rates, cores=4, workers=(2,), batched_ratio=0.5)
    cnn = 540_000 / 1000 + (60_000 + 10_000) / 10_000  # 547 s per CNN run
    arch = result["chapters"]["architectures"]
    assert arch["one_core_s"] == pytest.approx(2 * cnn)
    assert arch["runner_4_cores_s"] == pytest.approx(cnn)  # one run per core
    assert arch["dask_s"]["2"] == pytest.approx(cnn)
    book = result["book"]
    assert book["one_core_s"] == pytest.approx(sum(c["one_core_s"] for c in
                                                   result["chapters"].values()))  # fmt: skip
    assert book["batched_one_core_s"] == pytest.approx(2 * book["one_core_s"])
    assert result["target_met"] is (book["runner_4_cores_s"] <= 2 * 3600)
    text = full_estimate.markdown(result)
    assert "| whole book | 4 |" in text and "not measured: no GPU lent" in text
    rows = report.estimate_rows(result)
    assert rows[-1][0] == "whole book" and rows[-1][2] == report.duration(book["one_core_s"])
    summary = report.estimate_summary(result)
    assert "took 2.0 times as long" in summary and "trains them solo" in summary
    floor = sum(c["longest_run_s"] for c in result["chapters"].values())
    assert f"at least {report.duration(floor)}" in summary
    assert report.duration(3 * 3600 + 5 * 60) == "3 h 05 min"


def test_before_validates_every_epoch_at_the_old_rates_one_run_at_a_time(build):
    store, cache = build
    runs = workload.assign_chapters(workload.sized(workload.stored_runs(store)),
                                    workload.page_windows(cache))  # fmt: skip
    rates = {r.rate_key: {"train_images_per_s": 1000.0, "predict_images_per_s": 10_000.0,
                          "before_train_images_per_s": 500.0,
                          "before_predict_images_per_s": 5_000.0} for r in runs}  # fmt: skip
    result = full_estimate.estimate(runs, rates, cores=4, workers=(2,),
                                    before_threads={"threads": 2, "speedup": 1.5})  # fmt: skip
    assert result["before_thread_efficiency"] == 0.75
    small = runs[2].full  # the 100-image run: no validation after, every epoch before
    assert small["val_passes"] == 0
    before_small = full_estimate.before_core_seconds(runs[2], rates)
    assert before_small == pytest.approx(small["train_passes"] / 500
                                         + (6_000 * small["epochs"] + 10_000) / 5_000)  # fmt: skip
    book = result["book"]
    assert book["before_runner_4_cores_s"] == pytest.approx(book["before_one_core_s"] / 3)
    assert book["before_one_core_s"] > 2 * book["one_core_s"]  # half the rates, more validation
    text = full_estimate.markdown(result)
    assert "before: 4-core runner |" in text.splitlines()[0]
    line = full_estimate.before_after_line(result)
    assert line.startswith("BEFORE one core") and "| AFTER one core" in line
    assert report.estimate_headers(result)[-1] == "4-core runner, before"
    rows = report.estimate_rows(result)
    assert rows[-1][-1] == report.duration(book["before_runner_4_cores_s"])
    assert f"{book['before_runner_4_cores_s'] / book['runner_4_cores_s']:.1f} times as long" in (
        report.estimate_summary(result)
    )
    without = full_estimate.estimate(runs, {k: {"train_images_per_s": 1000.0,
                                                "predict_images_per_s": 10_000.0}
                                            for k in rates}, cores=4)  # fmt: skip
    assert "before_one_core_s" not in without["book"]
    assert "no BEFORE" in full_estimate.before_after_line(without)
    assert len(report.estimate_headers(without)) == 5


def test_chapters_a_partial_build_did_not_reach_are_listed_from_their_code(build):
    import planned

    plans = planned.chapter_plans(AVAILABLE)
    assert len(plans["design_choices"]) == 11 * 5  # 10 CNN designs and the MLP, 5 seeds each
    assert len(plans["inductive_bias"]) == 4 * 5 + 2 * 6 * 5  # 4 models, 6 sizes a model
    store, cache = build
    runs = planned.complete(workload.assign_chapters(workload.stored_runs(store),
                                                     workload.page_windows(cache)))  # fmt: skip
    stored = [r for r in runs if r.source == "store"]
    assert len(stored) == 4 and all(r.chapter != "?" for r in stored)
    added = [r for r in runs if r.source == "plan"]
    identities = [planned.same_run(r.config) for r in runs]
    assert len(identities) == len(set(identities))  # each run once, in its first chapter
    chapters = {r.chapter for r in added}
    assert "architectures" not in chapters  # reached and finished: nothing added
    interpretability = [r for r in added if r.chapter == "interpretability"]
    assert {r.config.get("labels") for r in interpretability} == {"shuffled"}  # CNN, MLP: earlier
    assert len(interpretability) == 5


def test_the_readme_shows_the_committed_estimate():
    root = BENCH.parent
    estimate = json.loads((BENCH / "results" / "full_estimate.json").read_text())
    assert full_estimate.markdown(estimate) in (root / "README.md").read_text()
    assert set(estimate["chapters"]) <= set(estimate["subset_pages_s"]) | {
        r["chapter"] for r in estimate["runs"] if r["source"] == "plan"
    }
