"""The figures of the Deployment chapter, in the book's one style (see :mod:`fmnist_edu.plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import NullLocator

from fmnist_edu.plots import BookFigure, _figure, _legend_above, _styled


def latency_bins(latencies: Mapping[str, Sequence[float]], per_decade: int = 24) -> np.ndarray:
    """Bin edges, evenly spaced on a log scale, that cover every latency (in ms).

    A log scale shows the bulk of fast answers and the slow tail in one picture.
    """
    values = np.concatenate([np.asarray(v, dtype=float) for v in latencies.values()])
    if len(values) == 0 or not np.all(values > 0):
        raise ValueError("latencies: give at least one latency, all positive")
    low, high = np.log10(values.min()) - 0.02, np.log10(values.max()) + 0.02
    return np.logspace(low, high, max(2, int(np.ceil((high - low) * per_decade)) + 1))


def nice_ticks(low: float, high: float) -> list[float]:
    """The values 1, 2, 5 times a power of ten that lie in ``[low, high]`` (log-axis ticks)."""
    ticks = []
    for exponent in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1):
        ticks += [m * 10.0**exponent for m in (1, 2, 5) if low <= m * 10.0**exponent <= high]
    return ticks


@_styled
def latency_histogram(latencies: Mapping[str, Sequence[float]]) -> BookFigure:
    """Histogram of request latencies (ms) per backend, log-scaled x, with each median dashed.

    ``latencies`` maps a backend's name to its latencies in milliseconds.
    """
    fig = _figure(3.2)
    ax = fig.subplots()
    edges = latency_bins(latencies)
    for name, values in latencies.items():
        counts, _ = np.histogram(values, bins=edges)
        steps = ax.stairs(counts, edges, linewidth=1.6, label=name)
        ax.axvline(float(np.median(values)), color=steps.get_edgecolor(), linestyle="--", lw=1)
    ax.set_xscale("log")
    ticks = nice_ticks(edges[0], edges[-1])
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("latency of one request (ms, log scale); dashed: median")
    ax.set_ylabel("requests")
    _legend_above(fig, ncols=len(latencies))
    return fig
