"""The Architectures chapter's figures: confusion matrices, learning curves, per-class bars.

They follow the one style of :mod:`fmnist_edu.plots` (width, fonts, phone rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from fmnist_edu.plots import BookFigure, _class_ticks, _figure, _legend_above, _matrix, _styled
from fmnist_edu.training import History

CONFUSION_LABEL = "% of the true class's test images (all seeds)"
"""Colour-bar label of :func:`confusion_matrix`."""
CONFUSION_CONVENTION = (
    "Each row shows where the test images of one true class went, as a percentage of that "
    "class, with the predictions of all seeds added up (so each row adds up to 100%). "
    "Correct predictions, on the diagonal, are hatched grey with their value written; the "
    "colour scale covers only the mix-ups."
)
"""Sentences for captions of :func:`confusion_matrix` figures (glue it)."""


def row_percentages(confusion: Sequence[Sequence[float]]) -> torch.Tensor:
    """Each row of a confusion matrix as percentages of its total (a row of zeros stays 0).

    Adding up the matrices of several seeds, all tested on the same images, does not change
    these shares: each row's total is the class's test images times the number of seeds.
    """
    m = torch.as_tensor(confusion, dtype=torch.float64)
    totals = m.sum(dim=1, keepdim=True)
    return torch.where(totals > 0, 100 * m / totals.clamp(min=1), torch.zeros_like(m))


def largest_mix_up(*confusions: Sequence[Sequence[float]]) -> float:
    """The largest off-diagonal row percentage (:func:`row_percentages`) of several matrices.

    Pass it as ``vmax`` to :func:`confusion_matrix` to draw several models' matrices on one
    colour scale, so that one colour means the same share in each.
    """
    tops = []
    for confusion in confusions:
        percent = row_percentages(confusion)
        tops.append(float(percent.masked_fill(torch.eye(len(percent), dtype=torch.bool), 0).max()))
    return max(tops)


@_styled
def confusion_matrix(
    confusion: Sequence[Sequence[int]],
    label: str = CONFUSION_LABEL,
    vmax: float | None = None,
) -> BookFigure:
    """A confusion matrix as row percentages: rows are true classes, columns predictions.

    ``confusion`` holds counts (e.g. summed over seeds by
    :func:`fmnist_edu.analysis.total_confusion`). Each cell shows the share of the true
    class's test images predicted as the column's class (:func:`row_percentages`). The
    diagonal (correct predictions) is hatched grey with its value written, and the colour
    scale runs from 0 to the largest mix-up, or to ``vmax`` (e.g. :func:`largest_mix_up` of
    the matrices to be compared), so the mix-ups use all of it.
    :data:`CONFUSION_CONVENTION` says this in words for a caption.
    """
    percent = row_percentages(confusion)
    fig = _matrix(percent, "{:.1f}", label, "Oranges", neutral_diagonal=True, vmax=vmax)
    ax = fig.axes[0]
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return fig


@_styled
def learning_curves(histories: Mapping[str, Sequence[History]]) -> BookFigure:
    """Training loss and validation accuracy per epoch: mean over seeds, band = min..max."""
    fig = _figure(3.2)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for label, runs in histories.items():
        for ax, column in ((loss_ax, "loss"), (acc_ax, "val_accuracy")):
            values = torch.tensor([h.column(column) for h in runs]).numpy()
            epochs = list(range(1, values.shape[1] + 1))
            (line,) = ax.plot(epochs, values.mean(0), marker="o", ms=4,
                              label=label if ax is loss_ax else None)  # fmt: skip
            ax.fill_between(epochs, values.min(0), values.max(0),
                            color=line.get_color(), alpha=0.2)  # fmt: skip
    for ax in (loss_ax, acc_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    loss_ax.set(xlabel="epoch", ylabel="training loss")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy")
    _legend_above(fig, ncols=len(histories))
    return fig


@_styled
def per_class_bars(per_class: Mapping[str, Sequence[float]]) -> BookFigure:
    """Grouped bars of per-class accuracy for several models."""
    fig = _figure(3.4)
    ax = fig.subplots()
    width = 0.8 / len(per_class)
    for k, (label, values) in enumerate(per_class.items()):
        x = [c + (k - (len(per_class) - 1) / 2) * width for c in range(len(values))]
        ax.bar(x, values, width=width, label=label)
    _class_ticks(ax)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    _legend_above(fig, ncols=len(per_class))
    return fig
