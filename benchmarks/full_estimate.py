"""Estimate the training time of a full-profile build on the full release, from measurements.

The full data is not available on the machines that build the quick book, so the full
build's time is computed, not measured:

1. the workload: every model a cold quick build trained, read from its results store
   (build with ``FMNIST_EDU_CACHE`` set to an empty folder, then pass that folder). Each
   entry gives the images it trained on and its epochs. Every run is taken to scale as
   the profile's runs do: 5 seeds instead of 3, 10 epochs instead of 3, 54,000 training
   images (60,000 less the 10 % validation share) instead of the subset's. Runs on fewer
   images (a ``limit``) with more epochs, sized to match a whole run's image passes, scale
   the same way; a run that does not (one seed only, fixed epochs) is overestimated;
2. the speed: images per second of the MLP and the CNN from
   ``bench_training.py --json`` on a CPU machine and on a GPU. A model with a
   convolution is costed at the CNN's speed, any other at the MLP's: larger kernels or
   deeper CNNs cost more than this says.

Dask workers run independent experiments side by side, so N workers take the total
divided by N, or the longest single run, whichever is longer (each worker a CPU machine,
or with ``--cores``, one core, like the measured one). Prints a Markdown table for the
README.

Run: ``python benchmarks/full_estimate.py --store DIR --cpu cpu.json --gpu gpu.json
[--workers 4 16] [--cores 2]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

QUICK_EPOCHS, FULL_EPOCHS = 3, 10
QUICK_SEEDS, FULL_SEEDS = 3, 5
FULL_TRAIN_IMAGES = 54_000  # 60,000 less the 10 % held out for validation


@dataclass(frozen=True)
class Run:
    """One stored training run of the quick build."""

    family: str  # "cnn" or "mlp"
    images: int
    epochs: int


def stored_runs(store: Path) -> list[Run]:
    """Read every entry of a results store: its model family, training images and epochs."""
    runs = []
    for meta_path in sorted(store.glob("*.json")):
        metrics = json.loads(meta_path.read_text())["metrics"]
        state = torch.load(meta_path.with_suffix(".pt"), map_location="cpu", weights_only=True)
        family = "cnn" if any(t.dim() == 4 for t in state.values()) else "mlp"
        runs.append(Run(family, metrics["train_images"], len(metrics["history"]["epochs"])))
    return runs


def full_passes(runs: list[Run]) -> dict[str, tuple[float, float]]:
    """Return, per family, (image passes of the full build, image passes of its longest run).

    The whole training split of the quick build is the most images any run used; a run's
    image passes scale by 10/3 epochs, 54,000 / that many images and (for the total) 5/3
    seeds.
    """
    whole = max(r.images for r in runs)
    per_run = (FULL_TRAIN_IMAGES * FULL_EPOCHS) / (whole * QUICK_EPOCHS)
    seeds = FULL_SEEDS / QUICK_SEEDS
    out: dict[str, tuple[float, float]] = {}
    for r in runs:
        passes = r.images * r.epochs * per_run
        total, longest = out.get(r.family, (0.0, 0.0))
        out[r.family] = (total + passes * seeds, max(longest, passes))
    return out


def hours(seconds: float) -> str:
    """Format a duration as hours and minutes."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def table(runs: list[Run], cpu: dict, gpu: dict | None, workers: list[int], cores: int = 0) -> str:
    """Return the README's Markdown table.

    ``cpu`` holds images/s per model (``{"cnn": {"images_per_s": ...}, ...}``) of one CPU
    machine, or, with ``cores`` > 0, of one core (one thread, timed by CPU time): then a
    machine of ``cores`` cores runs one run per core, side by side.
    """
    passes = full_passes(runs)
    counts = {f: sum(r.family == f for r in runs) for f in passes}

    def seconds(speeds: dict) -> tuple[float, float]:
        total = sum(p / speeds[f]["images_per_s"] for f, (p, _) in passes.items())
        longest = max(lp / speeds[f]["images_per_s"] for f, (_, lp) in passes.items())
        return total, longest

    def measured(speeds: dict) -> str:
        return ", ".join(f"{f.upper()} {speeds[f]['images_per_s']:,.0f} img/s" for f in passes)

    cpu_total, cpu_longest = seconds(cpu)
    unit = "CPU core" if cores else "CPU machine"
    rows = [f"| one {unit} (measured: {measured(cpu)}) | {hours(cpu_total)} |"]
    if cores:
        rows.append(
            f"| one {cores}-core machine, a run on each core | "
            f"{hours(max(cpu_total / cores, cpu_longest))} |"
        )
    if gpu:
        rows.append(
            f"| one GPU ({gpu['device']}; measured: {measured(gpu)}) | {hours(seconds(gpu)[0])} |"
        )
    for n in workers:
        rows.append(
            f"| {n} Dask workers, each a {unit} as above | "
            f"{hours(max(cpu_total / n, cpu_longest))} |"
        )
    workload = ", ".join(
        f"{counts[f]} {f.upper()} runs ({passes[f][0] / 1e6:,.1f} M image passes)" for f in passes
    )
    return (
        f"Workload of the quick build scaled to the full profile: {workload}.\n\n"
        "| where | training time |\n|---|---|\n" + "\n".join(rows)
    )


def main() -> None:
    """Print the table; a missing file is a one-line error, exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="results store of a cold quick build")
    parser.add_argument("--cpu", required=True, help="bench_training.py --json from a CPU")
    parser.add_argument("--gpu", help="bench_training.py --json from a GPU machine")
    parser.add_argument("--workers", type=int, nargs="*", default=[4, 16])
    parser.add_argument(
        "--cores", type=int, default=0,
        help="use the one-thread figures timed by CPU time (bench --threads 1), per core, "
        "for a machine of this many cores",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        runs = stored_runs(Path(args.store))
        cpu = json.loads(Path(args.cpu).read_text())["cpu"]
        if args.cores:
            cpu = {f: {"images_per_s": cpu[f]["by_cpu_time"]} for f in ("cnn", "mlp")}
        gpu = json.loads(Path(args.gpu).read_text())["cuda"] if args.gpu else None
    except (OSError, KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    if not runs:
        print(f"error: {args.store} holds no results", file=sys.stderr)
        sys.exit(1)
    print(table(runs, cpu, gpu, args.workers, args.cores))


if __name__ == "__main__":
    main()
