"""The training workload of a full-profile build: every run, its chapter, and its size on
the full release.

A cold full-profile build on the subset (``FMNIST_EDU_PROFILE=full``, ``FMNIST_EDU_CACHE``
an empty folder) leaves one results-store entry per run it trained, each with its run
record (:meth:`fmnist_edu.store.ResultStore.save`): the experiment's settings and the CPU
seconds of training and testing it. Its execution cache says when each page ran. This
module reads both:

- :func:`stored_runs`: every entry, with its settings, images, epochs, wall and CPU time;
- :func:`page_windows` and :func:`assign_chapters`: which page trained it (pages execute
  one after the other; an entry belongs to the page whose execution spans its writing);
- :func:`full_size`: the same run on the full release (54,000 training images, 6,000
  validation images, 10,000 test images). A run on all the training images keeps its
  epochs; a run on ``limit`` images whose epochs were scaled to see as many images as a
  whole run (:func:`fmnist_edu.inductive.scaled_epochs`) is scaled again to the full
  release; any other ``limit`` run keeps its images and epochs.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmnist_edu import inductive
from fmnist_edu.settings import PROFILES

FULL = PROFILES["full"]
FULL_TRAIN, FULL_TEST, FULL_VAL_FRACTION = 60_000, 10_000, 0.1
FULL_TRAIN_IMAGES = round(FULL_TRAIN * (1 - FULL_VAL_FRACTION))  # 54,000
FULL_VAL_IMAGES = FULL_TRAIN - FULL_TRAIN_IMAGES  # 6,000
#: Settings that change what a run learns but not what a step costs.
COST_FREE = ("seed", "epochs", "validate", "labels", "permute", "relabel", "lr", "val_fraction")


class WorkloadError(Exception):
    """A store or build folder that cannot be read as a workload (one line, names the file)."""


@dataclass(frozen=True)
class Run:
    """One trained run of the build, as measured on the subset and as sized for the full data."""

    key: str
    config: dict[str, Any]
    train_images: int  # on the subset
    val_images: int
    test_images: int
    epochs: int
    validated_epochs: int
    wall_seconds: float
    cpu_seconds: float | None
    written: float  # POSIX time the entry was written
    chapter: str = "?"
    full: dict[str, int] = field(default_factory=dict)  # images, epochs, val and test passes
    source: str = "store"  # or "plan": listed from a chapter's code (benchmarks/planned.py)

    @property
    def design(self) -> str:
        """A short name of what a step costs: the model and its cost-relevant settings."""
        return design_name(self.config)

    @property
    def rate_key(self) -> str:
        """The settings a training step's cost depends on, as a stable JSON string."""
        return rate_key(self.config)


def rate_key(config: dict[str, Any]) -> str:
    """The cost-relevant part of an experiment's settings (``COST_FREE`` left out), as JSON."""
    return json.dumps({k: v for k, v in config.items() if k not in COST_FREE}, sort_keys=True)


def design_name(config: dict[str, Any]) -> str:
    """E.g. ``"cnn"``, ``"cnn kernel 5"``, ``"mlp hidden 512x256"``, ``"cnn limit 100"``."""
    parts = [str(config.get("model", "?"))]
    defaults = {"kernel_size": 3, "depth": 2, "stride": 1, "padding": "same"}
    names = {"kernel_size": "kernel", "convs_per_block": "convs", "downsample": "downsample"}
    for name, default in (*defaults.items(), ("convs_per_block", 1), ("downsample", "pool")):
        if name in config and config[name] != default:
            parts.append(f"{names.get(name, name)} {config[name]}")
    if config.get("hidden"):
        parts.append("hidden " + "x".join(str(h) for h in config["hidden"]))
    for name in ("augment", "labels"):
        if name in config:
            parts.append(f"{name} {config[name]}")
    if "permute" in config:
        parts.append("permuted" + (" relabelled" if config.get("relabel") else ""))
    if config.get("limit"):
        parts.append(f"limit {config['limit']:,}")
    return " ".join(parts)


def _read_entry(meta_path: Path) -> Run:
    try:
        meta = json.loads(meta_path.read_text())
        metrics, run = meta["metrics"], meta["run"]
        epochs = metrics["history"]["epochs"]
        return Run(
            key=meta_path.stem,
            config=run["config"],
            train_images=int(metrics["train_images"]),
            val_images=int(metrics["val_images"]),
            test_images=int(metrics["test_images"]),
            epochs=len(epochs),
            validated_epochs=sum(e.get("val_accuracy") is not None for e in epochs),
            wall_seconds=float(metrics["train_seconds"]),
            cpu_seconds=run.get("cpu_seconds"),
            written=meta_path.stat().st_mtime,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        kind = "no run record" if isinstance(exc, KeyError) else type(exc).__name__
        raise WorkloadError(
            f"{meta_path}: not a results-store entry with its run record ({kind}: {exc}); "
            "build the book cold with this code to make one"
        ) from None


def stored_runs(store: str | os.PathLike) -> list[Run]:
    """Every entry of a results store, oldest first."""
    folder = Path(store)
    if not folder.is_dir():
        raise WorkloadError(f"{folder}: no such results store")
    runs = sorted((_read_entry(p) for p in folder.glob("*.json")), key=lambda r: r.written)
    if not runs:
        raise WorkloadError(f"{folder}: holds no results")
    return runs


@dataclass(frozen=True)
class Page:
    """When one page of the build executed."""

    name: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        """Its execution time."""
        return self.end - self.start


def page_windows(jupyter_cache: str | os.PathLike) -> list[Page]:
    """When each page executed, from a jupyter-cache folder (``_build/.jupyter_cache``).

    jupyter-cache records when each notebook's outputs were cached (its end) and how long
    executing it took.
    """
    db = Path(jupyter_cache) / "global.db"
    if not db.is_file():
        raise WorkloadError(f"{db}: no jupyter-cache database (build the book first)")
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT uri, created, data FROM nbcache").fetchall()
    except sqlite3.Error as exc:
        raise WorkloadError(f"{db}: unreadable ({exc})") from None
    pages = []
    for uri, created, data in rows:
        seconds = (json.loads(data or "{}") or {}).get("execution_seconds")
        if seconds is None:
            continue
        end = _timestamp(created)
        pages.append(Page(Path(uri).stem, end - float(seconds), end))
    return sorted(pages, key=lambda p: p.start)


def _timestamp(value: Any) -> float:
    import datetime

    if isinstance(value, int | float):
        return float(value)
    when = datetime.datetime.fromisoformat(str(value))
    if when.tzinfo is None:  # jupyter-cache stores UTC without a zone
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def assign_chapters(runs: Iterable[Run], pages: list[Page]) -> list[Run]:
    """Name each run's page: the one whose execution spans the entry's writing."""
    out = []
    for run in runs:
        page = next((p.name for p in pages if p.start <= run.written <= p.end + 1.0), "?")
        out.append(_replace(run, chapter=page))
    return out


def full_size(run: Run, available: int, profile_epochs: int = FULL.epochs) -> dict[str, int]:
    """The run on the full release: training images, epochs, and validation and test images
    predicted (``val_passes`` counts every validated epoch's images).

    ``available`` is the training images of a whole run on the subset.
    """
    limit = run.config.get("limit")
    images, epochs = FULL_TRAIN_IMAGES, run.epochs
    if limit:
        images = min(limit, FULL_TRAIN_IMAGES)
        if limit < available and run.epochs == inductive.scaled_epochs(
            profile_epochs, available, limit
        ):
            epochs = inductive.scaled_epochs(profile_epochs, FULL_TRAIN_IMAGES, limit)
    validated = run.validated_epochs if run.epochs == epochs else _validated(run, epochs)
    return {
        "train_images": images,
        "epochs": epochs,
        "train_passes": images * epochs,
        "val_passes": FULL_VAL_IMAGES * validated,
        "test_images": FULL_TEST,
    }


def _validated(run: Run, epochs: int) -> int:
    validate = run.config.get("validate", "epoch")
    return {"epoch": epochs, "last": 1}.get(validate, 0)


def sized(runs: list[Run]) -> list[Run]:
    """The runs with their full-release sizes (see :func:`full_size`)."""
    available = max(r.train_images for r in runs if not r.config.get("limit"))
    return [_replace(r, full=full_size(r, available)) for r in runs]


def _replace(run: Run, **changes: Any) -> Run:
    import dataclasses

    return dataclasses.replace(run, **changes)
