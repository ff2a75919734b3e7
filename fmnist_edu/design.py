"""The design grids of the "Design choices" chapter: which runs each question needs, and
the table each gives.

Five questions, each a section of designs compared with one reference design:

- ``kernel``: kernel size 1, 3, 5, 7 at depth 2, against 3 x 3;
- ``stacked``: two 3 x 3 convolutions per block against one 5 x 5, and three against one
  7 x 7 (equal receptive fields: the VGG argument);
- ``depth``: 1, 2, 3 blocks, against 2;
- ``stride``: stride-2 convolutions against 2 x 2 max-pooling for downsampling;
- ``padding``: valid against same padding.

Every design is an :class:`~fmnist_edu.experiments.Experiment` (so runs are cached and
reachable from the command line, ``fmnist-edu grid SECTION``); a :class:`Plan` says which
seeds, epochs and images. The default CNN is the reference of four sections and the
Architectures chapter's model: with the profile's seeds and epochs it is that chapter's run,
loaded from the store. Each row compares a design with its reference by
:func:`fmnist_edu.comparison.compare` (a bootstrap over seeds and test images).
"""

from __future__ import annotations

import csv
import dataclasses
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from fmnist_edu import comparison, experiments, summary
from fmnist_edu.data import FashionMNIST, Split
from fmnist_edu.errors import ConfigError
from fmnist_edu.experiments import Experiment, Result, SeedSummary
from fmnist_edu.settings import profile as get_profile


@dataclass(frozen=True)
class Design:
    """One design of a section: a name, its experiment (any seed) and its reference's name."""

    name: str
    experiment: Experiment
    reference: str | None = None  # None: this is the section's reference
    full_only: bool = False  # left out of a plan that is not ``everything`` (the quick profile)


_CNN = Experiment()
SECTIONS: dict[str, tuple[Design, ...]] = {
    "kernel": tuple(
        Design(f"{k} × {k}", Experiment(kernel_size=k), None if k == 3 else "3 × 3")
        for k in (1, 3, 5, 7)
    ),
    "stacked": (
        Design("5 × 5", Experiment(kernel_size=5)),
        Design("two 3 × 3", Experiment(convs_per_block=2), "5 × 5"),
        Design("7 × 7", Experiment(kernel_size=7)),
        Design("three 3 × 3", Experiment(convs_per_block=3), "7 × 7", full_only=True),
    ),
    "depth": tuple(
        Design(f"{d} block{'s' * (d > 1)}", Experiment(depth=d), None if d == 2 else "2 blocks")
        for d in (1, 2, 3)
    ),
    "stride": (
        Design("max-pool", _CNN),
        Design("stride-2 conv", Experiment(downsample="stride"), "max-pool"),
    ),
    "padding": (
        Design("same", _CNN),
        Design("valid", Experiment(padding="valid"), "same"),
    ),
}
"""The designs of each section, its reference first among equals (``reference=None``)."""


def section(name: str) -> tuple[Design, ...]:
    """Return a section's designs; a clear error for an unknown name."""
    if name not in SECTIONS:
        raise ConfigError(f"grid {name!r}: choose one of {', '.join(SECTIONS)}")
    return SECTIONS[name]


def design(section_name: str, name: str) -> Design:
    """Return the design called ``name`` in a section."""
    for d in section(section_name):
        if d.name == name:
            return d
    raise ConfigError(f"{section_name} has no design {name!r}")


@dataclass(frozen=True)
class Plan:
    """How much of each design to run: seeds, epochs, a training-image limit (``None``: all)
    and whether to run every design (``everything``) or leave out the ``full_only`` ones."""

    seeds: tuple[int, ...]
    epochs: int
    limit: int | None = None
    everything: bool = True

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigError("seeds=(): a grid needs at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds={self.seeds}: each seed once")

    def runs(self, experiment: Experiment) -> list[Experiment]:
        """The runs of one design (or any experiment): one per seed."""
        base = dataclasses.replace(experiment, epochs=self.epochs, limit=self.limit)
        return [dataclasses.replace(base, seed=s) for s in self.seeds]

    def designs(self, section_name: str) -> tuple[Design, ...]:
        """The designs of a section that this plan runs: without ``everything``, no
        ``full_only`` design, nor a reference that only those were compared with."""
        kept = [d for d in section(section_name) if self.everything or not d.full_only]
        used = {d.reference for d in kept}
        return tuple(d for d in kept if d.reference is not None or d.name in used)

    def experiments(self, sections: Iterable[str]) -> list[Experiment]:
        """Every run the sections need, each once, in order."""
        wanted = [r for s in sections for d in self.designs(s) for r in self.runs(d.experiment)]
        return list(dict.fromkeys(wanted))


def profile_plan(name: str | None = None) -> Plan:
    """The plan of a profile (default: ``FMNIST_EDU_PROFILE``): its seeds and epochs.

    The quick profile leaves out the ``full_only`` designs (three stacked 3 x 3 convolutions,
    the slowest run), so that a CI build of the chapter stays within its few minutes.
    """
    chosen = get_profile(name)
    return Plan(chosen.seeds, chosen.epochs, everything=chosen.name != "quick")


@dataclass(frozen=True)
class Row:
    """One design's line of a section's table."""

    design: Design
    parameters: int
    macs: int  # multiply-accumulates per image
    receptive_field: int  # side of the input square one unit of the last conv block sees
    dense_inputs: int  # values the classifier's first dense layer reads
    seconds_per_epoch: float  # median over seeds of the mean epoch time
    accuracy: SeedSummary  # test accuracy over seeds
    versus: comparison.Comparison | None  # this design minus its reference


class Correctness:
    """Which test images each design's runs got right, computed once per design."""

    def __init__(self, results: Mapping[Experiment, Result], dataset: FashionMNIST) -> None:
        self.results, self.dataset = results, dataset
        self._cache: dict[Experiment, torch.Tensor] = {}

    def runs(self, plan: Plan, experiment: Experiment) -> list[Result]:
        """The results of ``experiment``'s runs under ``plan``; an error if one is missing."""
        missing = [r for r in plan.runs(experiment) if r not in self.results]
        if missing:
            raise ConfigError(f"no result for {missing[0].label()} (seed {missing[0].seed})")
        return [self.results[r] for r in plan.runs(experiment)]

    def of(self, plan: Plan, experiment: Experiment) -> torch.Tensor:
        """``bool [seeds, test images]`` for ``experiment``'s runs under ``plan``."""
        if experiment not in self._cache:
            split = experiments.evaluation_split(experiment, self.dataset)
            # channels-last, as in training: oneDNN's CPU convolutions run ~1.5x faster.
            models = [r.model().to(memory_format=torch.channels_last)
                      for r in self.runs(plan, experiment)]  # fmt: skip
            self._cache[experiment] = comparison.correctness(models, split)
        return self._cache[experiment]


def table(section_name: str, plan: Plan, correct: Correctness) -> list[Row]:
    """Return a section's rows: sizes measured from the model, accuracy over the plan's seeds."""
    designs = {d.name: d for d in plan.designs(section_name)}
    rows = []
    for d in designs.values():
        runs = correct.runs(plan, d.experiment)
        model = d.experiment.build()
        layers = summary.summarize(model)
        features = [r for r in layers if r.name.startswith("features.")]
        versus = None
        if d.reference is not None:
            reference = designs[d.reference].experiment
            versus = comparison.compare(correct.of(plan, d.experiment), correct.of(plan, reference))
        rows.append(
            Row(
                design=d,
                parameters=runs[0].parameters,
                macs=sum(r.macs for r in layers),
                receptive_field=features[-1].receptive_field,
                dense_inputs=model.classifier.fc1.in_features,
                seconds_per_epoch=statistics.median(
                    r.history.seconds / len(r.history.epochs) for r in runs
                ),  # fmt: skip
                accuracy=experiments.summarize_seeds(r.test.accuracy for r in runs),
                versus=versus,
            )
        )
    return rows


def border_ink(split: Split, width: int = 1) -> tuple[float, float]:
    """Return the outer ring's share of the image area and of the ink (summed pixel values).

    The ring is ``width`` pixels wide. Without padding ("valid"), a 3 x 3 convolution
    centres no kernel on the outermost pixel of its input, and reads that pixel at fewer
    positions than the others: what the border loses depends on how much ink it holds.
    """
    side = split.images.shape[-1]
    if not 1 <= width < side // 2:
        raise ConfigError(f"width={width}: must be between 1 and {side // 2 - 1}")
    ring = torch.ones(side, side, dtype=torch.bool)
    ring[width:-width, width:-width] = False
    ink = split.images.double().sum(0)
    return float(ring.double().mean()), float(ink[ring].sum() / ink.sum())


def outcome(c: comparison.Comparison | None) -> str:
    """``"reference"``, ``"better"``, ``"worse"`` or ``"within noise"`` (design vs reference)."""
    if c is None:
        return "reference"
    return "better" if c.a_better else "worse" if c.b_better else "within noise"


COLUMNS = ("design", "parameters", "MACs per image", "receptive field", "dense inputs",
           "s per epoch", "test accuracy %", "vs reference, points (95% interval)")  # fmt: skip


def signed(points: float) -> str:
    """``points`` with its sign and one decimal; a value that rounds to zero reads ``+0.0``."""
    text = f"{points:+.1f}"
    return "+0.0" if text == "-0.0" else text


def cells(row: Row) -> list[str]:
    """A row as the strings the text, Markdown and CSV tables show."""
    c, a = row.versus, row.accuracy
    versus = "reference" if c is None else (
        f"{signed(100 * c.difference)} ({signed(100 * c.low)} to {signed(100 * c.high)}), "
        f"{outcome(c)}"
    )  # fmt: skip
    rf = row.receptive_field
    return [row.design.name, f"{row.parameters:,}", f"{row.macs:,}", f"{rf}×{rf}",
            f"{row.dense_inputs:,}", f"{row.seconds_per_epoch:.2f}",
            f"{100 * a.mean:.1f} ± {100 * a.std:.1f}", versus]  # fmt: skip


def format_table(rows: Sequence[Row]) -> str:
    """The table as aligned plain text (what ``fmnist-edu grid`` prints)."""
    lines = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths, strict=True)))
            for line in lines]  # fmt: skip
    text.insert(1, "-" * len(text[0]))
    return "\n".join(t.rstrip() for t in text)


def markdown_table(rows: Sequence[Row]) -> str:
    """The table as Markdown, for a chapter."""
    head = "| " + " | ".join(COLUMNS) + " |\n|---|" + "---:|" * (len(COLUMNS) - 1) + "\n"
    return head + "\n".join("| " + " | ".join(cells(r)) + " |" for r in rows)


def write_csv(rows: Sequence[Row], path: str | Path) -> None:
    """Write the table as CSV: raw numbers (fractions, not percent) for a spreadsheet."""
    fields = ["design", "parameters", "macs", "receptive_field", "dense_inputs",
              "seconds_per_epoch", "accuracy_mean", "accuracy_std", "seeds",
              "difference", "low", "high", "outcome"]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        for r in rows:
            c = r.versus
            writer.writerow([r.design.name, r.parameters, r.macs, r.receptive_field,
                             r.dense_inputs, f"{r.seconds_per_epoch:.4f}", f"{r.accuracy.mean:.6f}",
                             f"{r.accuracy.std:.6f}", r.accuracy.n,
                             *(("", "", "") if c is None else
                               (f"{c.difference:.6f}", f"{c.low:.6f}", f"{c.high:.6f}")),
                             outcome(c)])  # fmt: skip
