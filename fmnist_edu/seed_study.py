"""The original study's kernel-size results, beside a build's measurements, and its findings
tested on that build's runs.

The study this book grows from ("Convolutional Neural Networks Analysis: Fashion-MNIST")
reported one run per model, with approximate accuracies and parameter counts, and drew
three conclusions about kernels. :data:`REPORTED` holds its table as printed (the only
typed numbers: they are the claim under test); :func:`findings` states each conclusion as
confirmed, contradicted or within noise on a build's runs, by
:func:`fmnist_edu.comparison.compare` (a bootstrap over seeds and test images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fmnist_edu import comparison
from fmnist_edu.comparison import signed
from fmnist_edu.design import Correctness, Plan, Row
from fmnist_edu.experiments import Experiment, SeedSummary, summarize_seeds

COUNT_TOLERANCE = 0.05
"""A reported count within 5 % of the true one is right: the study rounded its counts."""


@dataclass(frozen=True)
class Reported:
    """One line of the study's results table."""

    name: str  # the design's name in fmnist_edu.design ("3 × 3"), or "MLP"
    accuracy: tuple[float, float]  # the reported range, as fractions
    parameters: int  # as reported (rounded: "980K" is 980,000)


REPORTED = (
    Reported("MLP", (0.88, 0.88), 109_000),
    Reported("3 × 3", (0.90, 0.91), 420_000),
    Reported("5 × 5", (0.89, 0.90), 980_000),
    Reported("7 × 7", (0.88, 0.89), 1_800_000),
)
"""The study's table: "Baseline (FC) ~88.0 %, 109K; CNN (3×3) ~90-91 %, 420K; CNN (5×5)
~89-90 %, 980K; CNN (7×7) ~88-89 %, 1.8M"."""

MLP = Experiment(model="mlp")


def count_error(reported: int, measured: int) -> float:
    """How far a reported count is from the measured one, as a ratio (1.0: exact)."""
    return reported / measured


def count_is_right(reported: int, measured: int) -> bool:
    """True when the reported count is the measured one up to :data:`COUNT_TOLERANCE`."""
    return abs(count_error(reported, measured) - 1) <= COUNT_TOLERANCE


def sampling_error(accuracy: float, images: int) -> float:
    """The standard error of an accuracy measured on ``images`` test images, as a fraction:
    ``sqrt(p (1 - p) / n)``, the part of one run's noise that comes from which images the
    test set holds (a binomial proportion). A larger test set makes it smaller."""
    if not 0 <= accuracy <= 1 or images < 1:
        raise ValueError(f"accuracy={accuracy}, images={images}: need 0..1 and at least one")
    return math.sqrt(accuracy * (1 - accuracy) / images)


@dataclass(frozen=True)
class Finding:
    """One of the study's conclusions and what this build's runs say about it."""

    claim: str
    status: str  # "confirmed", "partly confirmed", "contradicted" or "within noise"
    evidence: tuple[str, ...]  # one line per comparison behind the status


def status(holds: Sequence[bool], fails: Sequence[bool]) -> str:
    """Combine comparisons: each either supports the claim beyond noise (``holds``), goes
    against it beyond noise (``fails``), or neither (within noise)."""
    if any(fails):
        return "contradicted"
    if all(holds):
        return "confirmed"
    return "partly confirmed" if any(holds) else "within noise"


def _line(c: comparison.Comparison, a: str, b: str, unit: str = "points") -> str:
    return (
        f"{a} minus {b}: {signed(100 * c.difference)} {unit} "
        f"({c.confidence:.0%} interval {signed(100 * c.low)} to {signed(100 * c.high)})"
    )


def findings(kernel: Sequence[Row], stacked: Sequence[Row], plan: Plan, correct: Correctness
             ) -> list[Finding]:  # fmt: skip
    """Test the study's three kernel findings on the rows of the ``kernel`` and ``stacked``
    sections of :mod:`fmnist_edu.design` (and the runs behind them)."""
    by_name = {r.design.name: r for r in kernel}
    three, larger = by_name["3 × 3"], [by_name["5 × 5"], by_name["7 × 7"]]
    ranking = [r.versus for r in larger]  # larger minus 3 x 3
    out = [
        Finding(
            "3 × 3 kernels are the most accurate, and accuracy falls as kernels grow to "
            "5 × 5 and 7 × 7",
            status([c.b_better for c in ranking], [c.a_better for c in ranking]),
            tuple(_line(r.versus, r.design.name, "3 × 3") for r in larger),
        )
    ]
    # Accuracy per 100,000 parameters, compared like accuracy (each image's 0/1 scaled).
    per = [1e5 / r.parameters for r in (three, *larger)]
    mine = correct.of(plan, three.design.experiment).double() * per[0]
    ratios = [
        comparison.compare(mine, correct.of(plan, r.design.experiment).double() * p)
        for r, p in zip(larger, per[1:], strict=True)
    ]
    out.append(
        Finding(
            "3 × 3 kernels have the best accuracy-to-parameter ratio",
            status([c.a_better for c in ratios], [c.b_better for c in ratios]),
            tuple(
                _line(c, "3 × 3", r.design.name, "points per 100,000 parameters")
                for c, r in zip(ratios, larger, strict=True)
            ),
        )
    )
    pairs = [r for r in stacked if r.versus is not None]  # stacked minus one large kernel
    out.append(
        Finding(
            "smaller kernels with more layers beat larger kernels with fewer layers",
            status([r.versus.a_better for r in pairs], [r.versus.b_better for r in pairs]),
            tuple(_line(r.versus, r.design.name, r.design.reference) for r in pairs),
        )
    )
    return out


def markdown_findings(found: Sequence[Finding]) -> str:
    """The findings as a numbered Markdown list (it wraps on a phone, where a table's
    last columns would scroll out of view): the claim, the verdict, the comparisons."""
    return "\n".join(
        f"{i}. *{f.claim[0].upper()}{f.claim[1:]}*: **{f.status}**. {'; '.join(f.evidence)}."
        for i, f in enumerate(found, 1)
    )


def beside(kernel: Sequence[Row], plan: Plan, correct: Correctness
           ) -> list[tuple[Reported, int, SeedSummary]]:  # fmt: skip
    """Pair each line of :data:`REPORTED` with the measured parameters and test accuracy
    (over the plan's seeds): the kernel sizes from their rows, the MLP from its runs."""
    by_name = {r.design.name: (r.parameters, r.accuracy) for r in kernel}
    runs = correct.runs(plan, MLP)
    by_name["MLP"] = (runs[0].parameters, summarize_seeds(r.test.accuracy for r in runs))
    return [(reported, *by_name[reported.name]) for reported in REPORTED]


def count_verdict(reported: int, measured: int) -> str:
    """``"right"``, or ``"wrong: 2.2 ×"`` (the reported count over the true one)."""
    if count_is_right(reported, measured):
        return "right"
    return f"**wrong**: {count_error(reported, measured):.1f} ×"


def parameter_table(pairs: Sequence[tuple[Reported, int, SeedSummary]]) -> str:
    """The study's parameter counts beside the true ones (from :func:`beside`), each judged;
    four short columns, so that the verdict stays in view on a phone."""
    lines = ["| model | study | true count | study's count |", "|---|---:|---:|---|"]
    lines += [
        f"| {reported.name} | {reported.parameters:,} | {measured:,} "
        f"| {count_verdict(reported.parameters, measured)} |"
        for reported, measured, _ in pairs
    ]
    return "\n".join(lines)


def accuracy_table(pairs: Sequence[tuple[Reported, int, SeedSummary]]) -> str:
    """The study's accuracies (one run each) beside a build's (mean ± standard deviation
    over its seeds), in percent."""
    lines = ["| model | study, one run | this build, over seeds |", "|---|---:|---:|"]
    for reported, _, accuracy in pairs:
        low, high = (100 * a for a in reported.accuracy)
        acc = f"~{low:.0f}" if low == high else f"~{low:.0f}–{high:.0f}"
        lines.append(
            f"| {reported.name} | {acc} | {100 * accuracy.mean:.1f} ± {100 * accuracy.std:.1f} |"
        )
    return "\n".join(lines)
