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
