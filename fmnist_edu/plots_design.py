"""The figures of the Design choices chapter, in the book's one style (see :mod:`fmnist_edu.plots`).

Both take rows of :func:`fmnist_edu.design.table`: accuracy against cost for a few designs,
and every design's difference from its reference with its bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.lines import Line2D

from fmnist_edu.design import Row, outcome
from fmnist_edu.plots import BookFigure, _figure, _styled


@_styled
def tradeoff(rows: Sequence[Row]) -> BookFigure:
    """Test accuracy (mean ± one standard deviation over seeds) against parameters and
    against multiply-accumulates per image (computed, not timed: a shared machine's wall
    time measures its load as much as the model), one labelled point per design."""
    fig = _figure(3.3)
    params_ax, macs_ax = fig.subplots(1, 2, sharey=True)
    for ax, cost, scale in ((params_ax, "parameters", 1e3), (macs_ax, "macs", 1e6)):
        right = max(getattr(r, cost) for r in rows)
        for r in rows:
            x = getattr(r, cost) / scale
            y, err = 100 * r.accuracy.mean, 100 * r.accuracy.std
            ax.errorbar(x, y, yerr=err, fmt="o", ms=6, capsize=4, color="black", zorder=3)
            last = getattr(r, cost) == right  # its label to the left, inside the axes
            ax.annotate(r.design.name, (x, y), xytext=(-6 if last else 6, 4),
                        textcoords="offset points", ha="right" if last else "left")  # fmt: skip
        ax.margins(x=0.25, y=0.2)
    params_ax.set(xlabel="parameters (thousands)", ylabel="test accuracy (%)")
    macs_ax.set(xlabel="MACs per image (millions)")
    return fig


@_styled
def differences(sections: Mapping[str, Sequence[Row]]) -> BookFigure:
    """Each design's test accuracy minus its reference's, in points, with the interval
    of :func:`fmnist_edu.comparison.compare` (over seeds and test images). A filled dot:
    the interval excludes zero; a hollow one: within noise. ``sections`` maps a title to
    its rows; references (rows without a comparison) are not drawn."""
    lines = [(title, r) for title, rows in sections.items() for r in rows if r.versus]
    fig = _figure(0.9 + 0.6 * len(lines))
    ax = fig.subplots()
    for y, (title, r) in enumerate(reversed(lines)):
        c = r.versus
        ax.plot([100 * c.low, 100 * c.high], [y, y], color="black", lw=1.5, zorder=2)
        beyond = outcome(c) != "within noise"
        ax.plot(100 * c.difference, y, "o", ms=7, color="black",
                markerfacecolor="black" if beyond else "white", zorder=3)  # fmt: skip
        # The label above its interval, across the full width: at 12 pt, labels at the
        # side would leave the intervals half the figure.
        ax.text(0.0, y + 0.25, f"{title}: {r.design.name} vs {r.design.reference}",
                transform=ax.get_yaxis_transform(), va="bottom", ha="left")  # fmt: skip
    ax.axvline(0, color="0.6", lw=1, zorder=1)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_ylim(-0.5, len(lines) - 0.1)
    ax.set_xlabel("test accuracy minus the reference's (percentage points)")
    handles = [Line2D([], [], marker="o", ls="", color="black", markerfacecolor=face, label=text)
               for face, text in (("black", "interval excludes zero"),
                                  ("white", "within noise"))]  # fmt: skip
    fig.legend(handles=handles, loc="outside upper center", ncols=2)
    return fig
