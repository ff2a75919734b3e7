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
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from fmnist_edu import comparison, experiments, models, summary
from fmnist_edu.comparison import signed
from fmnist_edu.data import FashionMNIST
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


def _table(**design: object) -> Experiment:
    """A design that only the tables use: judged by its test accuracy, never validated.

    The default CNN (``_CNN``, the 3 x 3 kernel, two blocks) keeps validating after every
    epoch: other chapters' figures show its learning curves, and it is one stored run
    for all of them. The depth section's designs do too: its figure draws their curves.
    Validating changes no weight, only the time a run takes (about 4 % of a CNN's).
    """
    experiment = Experiment(**design)
    return experiment if experiment == _CNN else dataclasses.replace(experiment, validate="none")


SECTIONS: dict[str, tuple[Design, ...]] = {
    "kernel": tuple(
        Design(f"{k} × {k}", _table(kernel_size=k), None if k == 3 else "3 × 3")
        for k in (1, 3, 5, 7)
    ),
    "stacked": (
        Design("5 × 5", _table(kernel_size=5)),
        Design("two 3 × 3", _table(convs_per_block=2), "5 × 5"),
        Design("7 × 7", _table(kernel_size=7)),
        Design("three 3 × 3", _table(convs_per_block=3), "7 × 7", full_only=True),
    ),
    "depth": tuple(
        Design(f"{d} block{'s' * (d > 1)}", Experiment(depth=d), None if d == 2 else "2 blocks")
        for d in (1, 2, 3)
    ),
    "stride": (
        Design("max-pool", _CNN),
        Design("stride-2 conv", _table(downsample="stride"), "max-pool"),
    ),
    "padding": (
        Design("same", _CNN),
        Design("valid", _table(padding="valid"), "same"),
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
    feature_shape: tuple[int, ...]  # (channels, side, side) after the last conv block
    accuracy: SeedSummary  # test accuracy over seeds
    versus: comparison.Comparison | None  # this design minus its reference

    @property
    def dense_inputs(self) -> int:
        """Values the classifier's first dense layer reads: channels x side x side."""
        return math.prod(self.feature_shape)


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
                feature_shape=tuple(features[-1].output_shape),
                accuracy=experiments.summarize_seeds(r.test.accuracy for r in runs),
                versus=versus,
            )
        )
    return rows


def mean_curve(results: Sequence[Result], column: str) -> list[float]:
    """One statistic of the runs' histories per epoch, averaged over the runs (seeds), e.g.
    ``mean_curve(runs, "loss")``; the runs must have trained for the same epochs."""
    curves = [r.history.column(column) for r in results]
    if not curves or len({len(c) for c in curves}) != 1:
        raise ConfigError(f"{column}: need runs with the same number of epochs")
    return [statistics.fmean(values) for values in zip(*curves, strict=True)]


def feature_shape(experiment: Experiment) -> tuple[int, ...]:
    """``(channels, side, side)`` of the last convolutional block's output: what the
    classifier's first dense layer flattens (computed by running the model)."""
    return next(r.output_shape for r in reversed(summary.summarize(experiment.build()))
                if r.name.startswith("features."))  # fmt: skip


def sides(experiment: Experiment) -> tuple[int, ...]:
    """The side of the feature maps through a CNN design: the image's side, then each new
    side after each convolution and pooling layer (computed by running the model,
    :func:`fmnist_edu.summary.summarize`). The default CNN gives ``(28, 28, 14, 14, 7)``;
    with ``padding="valid"``, ``(28, 26, 13, 11, 5)``."""
    layers = summary.summarize(experiment.build())
    return (models.IMAGE_SIDE,) + tuple(
        r.output_shape[-1] for r in layers
        if r.name.startswith("features.") and r.kind in ("Conv2d", "MaxPool2d")
    )  # fmt: skip


def valid_reads(side: int, kernel: int) -> torch.Tensor:
    """How many output positions of a stride-1 ``kernel`` x ``kernel`` convolution without
    padding ("valid") read each pixel of a ``side`` x ``side`` input (``int64 [side, side]``).

    The output has ``side - kernel + 1`` positions per row; every input pixel is read at
    least once (a corner pixel once, an inner one ``kernel ** 2`` times): valid padding
    loses output positions, not input pixels.
    """
    if not 1 <= kernel <= side:
        raise ConfigError(f"kernel={kernel}: must be between 1 and the side, {side}")
    out = side - kernel + 1
    ones = torch.ones(1, 1, out, out, dtype=torch.float64)
    weight = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
    return torch.nn.functional.conv_transpose2d(ones, weight)[0, 0].round().long()


def outcome(c: comparison.Comparison | None) -> str:
    """``"reference"``, ``"better"``, ``"worse"`` or ``"within noise"`` (design vs reference)."""
    if c is None:
        return "reference"
    return "better" if c.a_better else "worse" if c.b_better else "within noise"


COLUMNS = ("design", "accuracy %", "minus reference", "verdict", "parameters",
           "MACs (millions)", "dense inputs", "receptive field")  # fmt: skip
"""The table's columns, the accuracy and the verdict first: they stay in view on a phone
(the costs scroll in from the right); short cells (MACs in millions) keep every column in
view on a desktop. The interval's confidence is the comparison's."""


def cells(row: Row) -> list[str]:
    """A row as the strings the text, Markdown and CSV tables show."""
    c, a = row.versus, row.accuracy
    versus = "—" if c is None else (
        f"{signed(100 * c.difference)} ({signed(100 * c.low)} to {signed(100 * c.high)})"
    )  # fmt: skip
    rf = row.receptive_field
    return [row.design.name, f"{100 * a.mean:.1f} ± {100 * a.std:.1f}", versus, outcome(c),
            f"{row.parameters:,}", f"{row.macs / 1e6:.2f}", f"{row.dense_inputs:,}",
            f"{rf} × {rf}"]  # fmt: skip


def format_table(rows: Sequence[Row]) -> str:
    """The table as aligned plain text (what ``fmnist-edu grid`` prints)."""
    lines = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    text = ["  ".join(c.ljust(w) if i in (0, 3) else c.rjust(w)
                      for i, (c, w) in enumerate(zip(line, widths, strict=True)))
            for line in lines]  # fmt: skip
    text.insert(1, "-" * len(text[0]))
    return "\n".join(t.rstrip() for t in text)


def markdown_table(rows: Sequence[Row]) -> str:
    """The table as Markdown, for a chapter."""
    align = ["---", "---:", "---:", "---", "---:", "---:", "---:", "---:"]
    head = f"| {' | '.join(COLUMNS)} |\n|{'|'.join(align)}|\n"
    return head + "\n".join("| " + " | ".join(cells(r)) + " |" for r in rows)


def write_csv(rows: Sequence[Row], path: str | Path) -> None:
    """Write the table as CSV: raw numbers (fractions, not percent) for a spreadsheet."""
    fields = ["design", "parameters", "macs", "receptive_field", "dense_inputs",
              "accuracy_mean", "accuracy_std", "seeds",
              "difference", "low", "high", "outcome"]  # fmt: skip
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        for r in rows:
            c = r.versus
            writer.writerow([r.design.name, r.parameters, r.macs, r.receptive_field,
                             r.dense_inputs, f"{r.accuracy.mean:.6f}",
                             f"{r.accuracy.std:.6f}", r.accuracy.n,
                             *(("", "", "") if c is None else
                               (f"{c.difference:.6f}", f"{c.low:.6f}", f"{c.high:.6f}")),
                             outcome(c)])  # fmt: skip
