"""Is one model better than another? Differences in test accuracy with their uncertainty.

A test accuracy carries two kinds of noise. *Seed noise*: another seed gives other initial
weights, batch order and dropout masks, hence another model. *Test-set noise*: the test set
is one sample of the images the models will meet; with ``N`` images an accuracy ``p`` is
uncertain by about ``sqrt(p (1 - p) / N)`` (the binomial standard error: 0.9 points for
``p = 0.85`` and ``N = 1,770``).

:func:`compare` measures both at once with a two-level bootstrap :cite:`efron1993bootstrap`:
each replicate resamples the seeds of each model (with replacement) and the test images
(with replacement, *the same images for both models*, since both were tested on them), and
recomputes the difference of mean accuracies. The 95 % interval of those replicates is the
difference's uncertainty; a model is called better only when the interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from fmnist_edu.data import Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import SeedSummary, summarize_seeds
from fmnist_edu.training import predict


def correctness(models: Sequence[nn.Module], split: Split) -> torch.Tensor:
    """Return which images each model classifies correctly: ``bool [len(models), N]``.

    One row per model (e.g. one per seed), one column per image of ``split``, in order.
    """
    return torch.stack([predict(model, split).cpu() == split.labels for model in models])


@dataclass(frozen=True)
class Comparison:
    """Model a against model b: accuracies over seeds and the difference's 95 % interval."""

    a: SeedSummary  # a's test accuracy per seed
    b: SeedSummary
    difference: float  # mean accuracy of a minus that of b
    low: float  # the bootstrap interval of the difference
    high: float
    test_images: int
    test_se: float  # binomial standard error of one accuracy near a's and b's, for the prose
    confidence: float
    replicates: int = 2000  # bootstrap replicates behind the interval

    @property
    def a_better(self) -> bool:
        """True when the whole interval lies above zero."""
        return self.low > 0

    @property
    def b_better(self) -> bool:
        """True when the whole interval lies below zero."""
        return self.high < 0

    @property
    def within_noise(self) -> bool:
        """True when the interval contains zero: this run shows no winner."""
        return not (self.a_better or self.b_better)


def compare(
    correct_a: torch.Tensor,
    correct_b: torch.Tensor,
    confidence: float = 0.95,
    replicates: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare two models tested on the same images, over seeds and test images.

    Args:
        correct_a: ``[seeds_a, N]``, 1 where seed ``i`` of model a got image ``j`` right
            (see :func:`correctness`).
        correct_b: ``[seeds_b, N]``, the same for model b, on the same ``N`` images.
        confidence: coverage of the interval.
        replicates: bootstrap replicates; the interval's ends move by about 0.1 point
            between bootstrap seeds at 2,000.
        seed: seeds the bootstrap, so a build reports the same interval every time.

    Returns:
        A :class:`Comparison`. With one seed per model only test-set noise is measured.
    """
    a, b = torch.as_tensor(correct_a).double(), torch.as_tensor(correct_b).double()
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or a.shape[1] == 0:
        raise ConfigError(
            f"compare needs [seeds, N] correctness of both models on the same N > 0 images; "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence}: must lie strictly between 0 and 1")
    n = a.shape[1]
    g = torch.Generator().manual_seed(seed)
    diffs = torch.empty(replicates, dtype=torch.float64)
    for start in range(0, replicates, 250):  # chunks keep memory at 250 x N
        k = min(250, replicates - start)
        rows_a = a[torch.randint(len(a), (k, len(a)), generator=g)].mean(1)  # [k, N]
        rows_b = b[torch.randint(len(b), (k, len(b)), generator=g)].mean(1)
        images = torch.randint(n, (k, n), generator=g)  # the same images for a and b
        diffs[start : start + k] = (rows_a - rows_b).gather(1, images).mean(1)
    tail = (1 - confidence) / 2
    low, high = torch.quantile(diffs, torch.tensor([tail, 1 - tail], dtype=torch.float64))
    p = float((a.mean() + b.mean()) / 2)
    return Comparison(
        a=summarize_seeds(a.mean(1).tolist()),
        b=summarize_seeds(b.mean(1).tolist()),
        difference=float(a.mean(1).mean() - b.mean(1).mean()),
        low=float(low),
        high=float(high),
        test_images=n,
        test_se=(p * (1 - p) / n) ** 0.5,
        confidence=confidence,
        replicates=replicates,
    )


def signed(value: float, digits: int = 1) -> str:
    """Format ``value`` with its sign (``+`` or ``-``) and ``digits`` decimals, never ``-0.0``."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def _points(share: float) -> str:
    """Format a share as signed percentage points with one decimal, never ``-0.0``."""
    return signed(100 * share, 1)


def confidence_text(c: Comparison) -> str:
    """The interval's coverage as prose writes it, e.g. ``"95 %"``."""
    return f"{100 * c.confidence:.0f} %"


def difference_text(c: Comparison, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    """The difference a minus b with its sign, then its interval, all in the same format.

    E.g. ``"-0.050 (95 % interval -0.136 to +0.030)"``; with ``scale=100`` and
    ``unit=" points"`` a difference of shares is written in percentage points. The
    difference always lies inside the interval it is printed beside, sign included, so a
    reader can check it against the interval (and zero) at a glance.
    """

    def fmt(value: float) -> str:
        return signed(scale * value, digits) + unit

    return f"{fmt(c.difference)} ({confidence_text(c)} interval {fmt(c.low)} to {fmt(c.high)})"


def verdict(c: Comparison, name_a: str, name_b: str) -> str:
    """Return one sentence stating what the comparison supports, for a chapter's prose."""
    interval = (
        f"{c.confidence:.0%} interval {_points(c.low)} to {_points(c.high)} points, over "
        f"seeds and {c.test_images:,} test images"
    )
    if c.within_noise:
        return (
            f"the {100 * abs(c.difference):.1f}-point difference between the {name_a} and the "
            f"{name_b} is within noise ({interval}, which contains zero), so this run shows "
            "no winner"
        )
    winner, loser = (name_a, name_b) if c.a_better else (name_b, name_a)
    return (
        f"the {winner} beats the {loser} by {100 * abs(c.difference):.1f} percentage points "
        f"({name_a} minus {name_b}: {interval}, which excludes zero)"
    )


@dataclass(frozen=True)
class Contrast:
    """One row of :func:`table`: ``name_a`` minus ``name_b``, with a label."""

    label: str  # what is compared, e.g. "centred" or a class name
    comparison: Comparison
    name_a: str  # who is ahead when the interval lies above zero
    name_b: str
    ahead: str = "ahead"  # the verdict's verb, e.g. "better" or "loses more" for a loss


def verdict_word(contrast: Contrast) -> str:
    """``"<a> ahead"``, ``"<b> ahead"`` or ``"within noise"`` (the interval contains zero)."""
    c = contrast.comparison
    if c.within_noise:
        return "within noise"
    return f"{contrast.name_a if c.a_better else contrast.name_b} {contrast.ahead}"


def table(
    contrasts: Sequence[Contrast], first_header: str = "comparison", points_header: str = "points"
) -> str:
    """Comparisons as one short Markdown table, narrow enough for a phone.

    Columns: the label, the difference ``a - b`` in percentage points (headed
    ``points_header``), its bootstrap interval (the header states the confidence, e.g.
    "95% interval") and the verdict (:func:`verdict_word`). Negative numbers carry a true
    minus sign. All rows must share one confidence.
    """
    if not contrasts:
        raise ConfigError("a comparison table needs at least one comparison")
    levels = {c.comparison.confidence for c in contrasts}
    if len(levels) > 1:
        raise ConfigError(f"a comparison table's rows mix confidences {sorted(levels)}")

    def points(share: float) -> str:
        return _points(share).replace("-", "\u2212")

    rows = [
        f"| {c.label} | {points(c.comparison.difference)} | {points(c.comparison.low)} to "
        f"{points(c.comparison.high)} | {verdict_word(c)} |"
        for c in contrasts
    ]
    header = f"| {first_header} | {points_header} | {levels.pop():.0%} interval | verdict |"
    return "\n".join([header, "|---|---:|---:|---|", *rows])


def per_class(
    correct_a: torch.Tensor, correct_b: torch.Tensor, labels: torch.Tensor, **options: object
) -> list[Comparison]:
    """Compare two models on each class's test images separately (one :func:`compare` each).

    ``labels`` are the true classes of the ``N`` images, in the order of the columns.
    ``options`` go to :func:`compare`. Classes hold about a tenth of the images, so their
    intervals are about three times wider than the overall one.
    """
    labels = torch.as_tensor(labels)
    return [
        compare(correct_a[:, labels == c], correct_b[:, labels == c], **options)  # type: ignore[arg-type]
        for c in range(int(labels.max()) + 1)
    ]
