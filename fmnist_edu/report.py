"""The build's execution report: per chapter, how long it ran, whether now or from the cache.

The book's appendix page "Execution report" shows one row per executed page: when its
outputs were made, how long executing it took, whether this build executed it or took its
outputs from the execution cache, and its provenance, the build fingerprint it was
executed under (code, data, profile; see :func:`fmnist_edu.provenance.build_fingerprint`).
myst-nb records the execution data; the Sphinx extension ``book/_ext/fmnist_report.py``
turns these rows into a table.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fmnist_edu.provenance import FULL_TEST, FULL_TRAIN


@dataclass(frozen=True)
class Fingerprint:
    """The parts of a build fingerprint: ``code-data-profile``."""

    code: str
    data: str
    profile: str

    @classmethod
    def parse(cls, fingerprint: str) -> Fingerprint:
        """Split ``"<code hash>-<data fingerprint>-<profile>"`` (the data part may be ``no-data``).

        An empty or malformed fingerprint gives ``"?"`` parts, so a page stamped by an older
        build still gets a row.
        """
        code, _, rest = fingerprint.partition("-")
        data, _, profile = rest.rpartition("-")
        if not (code and data and profile):
            return cls("?", "?", "?")
        return cls(code, data, profile)


@dataclass(frozen=True)
class Row:
    """One executed page of the report."""

    page: str
    executed: str  # "now" or "from the cache"
    seconds: float | None
    when: str
    succeeded: bool
    fingerprint: Fingerprint


def rows(
    exec_data: dict[str, dict[str, Any]],
    fingerprints: dict[str, str],
    build_start: float,
    order: Sequence[str] = (),
) -> list[Row]:
    """Return the report's rows, one per page with execution data, in the book's order.

    Args:
        exec_data: page name -> myst-nb's execution data (``mtime``: when the outputs were
            made, ``runtime``: seconds or ``None``, ``succeeded``). A page served from the
            execution cache keeps the ``mtime`` of its original execution.
        fingerprints: page name -> the build fingerprint the page was read with.
        build_start: when this build started (a POSIX timestamp): outputs made before it
            came from the cache.
        order: the pages in the book's order (its table of contents); pages not in it
            come last, by name.
    """
    rank = {page: i for i, page in enumerate(order)}
    out = []
    for page in sorted(exec_data, key=lambda p: (rank.get(p, len(rank)), p)):
        data = exec_data[page]
        mtime = data.get("mtime") or 0.0
        out.append(
            Row(
                page=page,
                executed="now" if mtime >= build_start else "from the cache",
                seconds=data.get("runtime"),
                when=datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")
                if mtime
                else "?",
                succeeded=bool(data.get("succeeded")),
                fingerprint=Fingerprint.parse(fingerprints.get(page, "")),
            )
        )
    return out


def total_seconds(report: list[Row]) -> float:
    """Return the summed execution time of the pages (those without a time count 0)."""
    return sum(r.seconds or 0.0 for r in report)


def data_extent(train: int, test: int) -> str:
    """Say whether the build read the full Fashion-MNIST release or a subset of it.

    Args:
        train: training images the build read.
        test: test images the build read.
    """
    if train >= FULL_TRAIN and test >= FULL_TEST:
        return f"the full Fashion-MNIST release ({train:,} training and {test:,} test images)"
    return (
        f"a subset of Fashion-MNIST: {train:,} of the {FULL_TRAIN:,} training images "
        f"({train / FULL_TRAIN:.1%}) and {test:,} of the {FULL_TEST:,} test images "
        f"({test / FULL_TEST:.1%})"
    )


# --- the full build's estimate (benchmarks/full_estimate.py --json) --------------------


def duration(seconds: float) -> str:
    """Format seconds as hours and minutes: ``"4 h 05 min"``, ``"12 min"``, ``"under 1 min"``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under 1 min"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def estimate_headers(estimate: dict[str, Any]) -> tuple[str, ...]:
    """The estimate table's headers: its core count, its largest Dask worker count and,
    when the estimate has one, the runner's time before issue 18."""
    cores = estimate["cores"]
    head = ("Chapter", "Runs", "One CPU core", f"{cores}-core runner",
            f"{max(estimate['workers'])} Dask workers")  # fmt: skip
    return head + ((f"{cores}-core runner, before",) if _has_before(estimate) else ())


def _has_before(estimate: dict[str, Any]) -> bool:
    return f"before_runner_{estimate['cores']}_cores_s" in estimate["book"]


def estimate_rows(estimate: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per chapter that trains (costliest first), then the whole book's.

    Args:
        estimate: what ``benchmarks/full_estimate.py --json`` wrote: per chapter and for
            the ``book``, its ``runs``, ``one_core_s``, ``runner_<cores>_cores_s`` and
            ``dask_s`` (seconds by worker count), and ``before_runner_<cores>_cores_s``
            when it was measured.
    """
    cores, workers = estimate["cores"], str(max(estimate["workers"]))
    rows = [*estimate["chapters"].items(), ("whole book", estimate["book"])]
    before = (f"before_runner_{cores}_cores_s",) if _has_before(estimate) else ()
    return [
        (
            name,
            f"{c['runs']:,}",
            duration(c["one_core_s"]),
            duration(c[f"runner_{cores}_cores_s"]),
            duration(c["dask_s"][workers]),
            *(duration(c[key]) for key in before),
        )  # fmt: skip
        for name, c in rows
    ]


def estimate_summary(estimate: dict[str, Any]) -> str:
    """What the estimate says of its targets: the runner against its goal, a GPU, batched seeds."""
    book, cores = estimate["book"], estimate["cores"]
    runner = book[f"runner_{cores}_cores_s"]
    verdict = "meets" if estimate["target_met"] else "misses"
    floor = sum(c["longest_run_s"] for c in estimate["chapters"].values())
    text = (
        f"On the full release, the full profile trains {book['runs']:,} models: "
        f"{duration(book['one_core_s'])} on one CPU core and {duration(runner)} on a "
        f"{cores}-core runner (one run per core), which {verdict} the goal of under "
        f"{estimate['target_hours']:g} h. Chapters run one after the other, and however "
        f"many Dask workers share a chapter's runs it takes no less than its longest run, so "
        f"the book trains for at least {duration(floor)} (its longest run alone: "
        f"{duration(book['longest_run_s'])}). "
    )
    if _has_before(estimate):
        before = book[f"before_runner_{cores}_cores_s"]
        text += (
            f"With the training code as it was before its speed-ups (benchmarks/before_after.py: "
            f"the CNN's modules run one by one, the old prediction path, validation after "
            f"every epoch, one run at a time at all of the runner's threads, each thread "
            f"{estimate['before_thread_efficiency'] * 100:.0f} % as productive as one thread "
            f"alone, as measured here) the runner would have taken {duration(before)}, "
            f"{before / runner:.1f} times as long. "
        )
    stored = book.get("runs_from_store", book["runs"])
    if stored < book["runs"]:
        text += (
            f"{stored:,} of these runs were read from a cold build's results store; the "
            "others, of chapters that build had not reached, are listed from the chapters' "
            "own package calls. "
        )
    if "gpu_s" in book:
        text += f"One GPU ({estimate['gpu']}): {duration(book['gpu_s'])}. "
    else:
        text += "One GPU: not measured, as no GPU was lent to measure the book's designs. "
    ratio = estimate.get("batched_ratio")
    if ratio and ratio > 1:
        text += (
            f"Training a design's seeds as one batched model ran {ratio:.2f} times as fast as "
            "one after the other on one CPU core, so it would save time."
        )
    elif ratio:
        text += (
            f"Training a design's seeds as one batched model took {1 / ratio:.1f} times as long "
            "as training them one after the other on one CPU core, so the book trains them solo."
        )
    return text
