"""The book's figures. Each function takes computed data and returns a matplotlib Figure.

Figures are built with the object API (``matplotlib.figure.Figure``), not pyplot, so
nothing is shown twice in a notebook and nothing leaks between figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure

from fmnist_edu.data import CLASS_NAMES, Split
from fmnist_edu.training import History

SHORT_NAMES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Boot")  # fmt: skip


def example_grid(split: Split, per_class: int = 8, seed: int = 0) -> Figure:
    """A grid with one row per class and ``per_class`` random examples in each row."""
    generator = torch.Generator().manual_seed(seed)
    fig = Figure(figsize=(per_class * 0.8 + 1.2, 8.4), layout="constrained")
    axes = fig.subplots(len(CLASS_NAMES), per_class)
    for c, row in enumerate(axes):
        members = torch.nonzero(split.labels == c).flatten()
        chosen = members[torch.randperm(len(members), generator=generator)[:per_class]]
        for ax, i in zip(row, chosen, strict=False):
            ax.imshow(split.images[i].numpy(), cmap="gray_r", vmin=0, vmax=255)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(CLASS_NAMES[c], rotation=0, ha="right", va="center")
    return fig


def class_balance(train: Split, test: Split) -> Figure:
    """Bar chart of the number of images of each class in both splits."""
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    x = torch.arange(len(CLASS_NAMES)).float()
    for offset, (name, split) in zip((-0.2, 0.2), (("train", train), ("test", test)), strict=True):
        ax.bar(x + offset, split.class_counts(), width=0.4, label=f"{name} ({len(split):,})")
    ax.set_xticks(x.tolist(), SHORT_NAMES, rotation=30)
    ax.set_ylabel("images")
    ax.legend()
    return fig


def image_row(images: torch.Tensor, titles: Sequence[str], cmap: str = "gray_r") -> Figure:
    """Show a few images side by side with titles (e.g. the per-class mean images)."""
    fig = Figure(figsize=(1.3 * len(images), 1.8), layout="constrained")
    axes = fig.subplots(1, len(images))
    for ax, image, title in zip(axes, images, titles, strict=True):
        ax.imshow(torch.as_tensor(image).numpy(), cmap=cmap)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return fig


def pixel_histogram(split: Split) -> Figure:
    """Histogram of pixel values (log scale: most pixels are background)."""
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.subplots()
    counts = torch.bincount(split.images.flatten().long(), minlength=256)
    ax.bar(range(256), counts.tolist(), width=1.0)
    ax.set_yscale("log")
    ax.set_xlabel("pixel value (0 = background)")
    ax.set_ylabel("pixels")
    return fig


def heatmap(matrix: Sequence[Sequence[float]], fmt: str = "{:.0f}", label: str = "") -> Figure:
    """A 10x10 class-by-class matrix with its values written in the cells."""
    m = torch.as_tensor(matrix, dtype=torch.float64)
    fig = Figure(figsize=(6.2, 5.4), layout="constrained")
    ax = fig.subplots()
    shown = ax.imshow(m.numpy(), cmap="Blues")
    fig.colorbar(shown, ax=ax, label=label)
    ticks = list(range(len(SHORT_NAMES)))
    ax.set_xticks(ticks, SHORT_NAMES, rotation=45, ha="right")
    ax.set_yticks(ticks, SHORT_NAMES)
    threshold = (float(m.max()) + float(m.min())) / 2  # white text on the darker half
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            colour = "white" if m[i, j] > threshold else "black"
            ax.text(j, i, fmt.format(float(m[i, j])), ha="center", va="center",
                    fontsize=7, color=colour)  # fmt: skip
    return fig


def confusion_matrix(confusion: Sequence[Sequence[int]]) -> Figure:
    """A confusion matrix: rows are true classes, columns predicted classes."""
    fig = heatmap(confusion, "{:.0f}", "test images")
    ax = fig.axes[0]
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return fig


def learning_curves(histories: Mapping[str, Sequence[History]]) -> Figure:
    """Training loss and validation accuracy per epoch: mean over seeds, band = min..max."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for label, runs in histories.items():
        for ax, column in ((loss_ax, "loss"), (acc_ax, "val_accuracy")):
            values = torch.tensor([h.column(column) for h in runs]).numpy()
            epochs = list(range(1, values.shape[1] + 1))
            (line,) = ax.plot(epochs, values.mean(0), marker="o", ms=3, label=label)
            ax.fill_between(epochs, values.min(0), values.max(0),
                            color=line.get_color(), alpha=0.2)  # fmt: skip
    loss_ax.set(xlabel="epoch", ylabel="training loss")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy")
    acc_ax.legend()
    return fig


def seed_scores(scores: Mapping[str, Sequence[float]], ylabel: str = "test accuracy") -> Figure:
    """Each seed's score as a dot, with the mean and one standard deviation as a bar."""
    fig = Figure(figsize=(4.5, 3.2), layout="constrained")
    ax = fig.subplots()
    for x, values in enumerate(scores.values()):
        v = torch.tensor(values, dtype=torch.float64)
        std = float(v.std()) if len(v) > 1 else 0.0
        ax.errorbar(x, float(v.mean()), yerr=std, fmt="_", ms=20, capsize=6, color="black")
        ax.scatter([x] * len(v), v.numpy(), alpha=0.7, zorder=3)
    ax.set_xticks(range(len(scores)), list(scores))
    ax.set_xlim(-0.6, len(scores) - 0.4)
    ax.set_ylabel(ylabel)
    return fig


def per_class_bars(per_class: Mapping[str, Sequence[float]]) -> Figure:
    """Grouped bars of per-class accuracy for several models."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(per_class)
    for k, (label, values) in enumerate(per_class.items()):
        x = [c + (k - (len(per_class) - 1) / 2) * width for c in range(len(values))]
        ax.bar(x, values, width=width, label=label)
    ax.set_xticks(range(len(SHORT_NAMES)), SHORT_NAMES, rotation=30)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower left")
    return fig
