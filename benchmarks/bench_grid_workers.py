"""A grid's runs on one CPU machine: one process at all threads (before) against one worker
process per core at one thread each (after), in one run.

Trains the same runs twice through :func:`fmnist_edu.grid.run_grid`, each time into an
empty results store: first in this process, one run after the other at torch's default
threads (the machine's cores), as the Design choices chapter trains without a scheduler;
then with ``workers`` = the cores and ``threads=1`` (a Dask ``LocalCluster``: one run per
core), which pays a cluster's start and sends the data to each worker. Prints the wall
time of each, the CPU time of each (this process and its finished children), and the load
average, since other programs on the machine change wall times.

Run: ``python benchmarks/bench_grid_workers.py [--runs 4] [--epochs 2] [--json FILE]``.
A figure, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

import torch

from fmnist_edu import data, grid
from fmnist_edu.errors import FmnistEduError
from fmnist_edu.experiments import Experiment
from fmnist_edu.store import ResultStore


def _cpu() -> float:
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def timed(runs: list[Experiment], dataset, **options) -> dict[str, float]:
    """Train ``runs`` into an empty store; return wall and CPU seconds and the load."""
    with tempfile.TemporaryDirectory() as tmp:
        load, cpu, wall = os.getloadavg()[0], _cpu(), time.perf_counter()
        grid.run_grid(runs, dataset, store=ResultStore(tmp), progress=False, **options)
        return {"wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu,
                "load_before": load, "load_after": os.getloadavg()[0]}  # fmt: skip


def main() -> int:
    """Print before and after; write them as JSON with ``--json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=4, help="seeds of the default CNN")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args()
    try:
        dataset = data.load()
    except FmnistEduError as exc:
        print(f"bench_grid_workers: {exc}", file=sys.stderr)
        return 2
    cores = os.cpu_count() or 1
    runs = [Experiment(epochs=args.epochs, seed=s, validate="none") for s in range(args.runs)]
    before = timed(runs, dataset)
    after = timed(runs, dataset, workers=cores, threads=1)
    out = {"cores": cores, "threads_before": torch.get_num_threads(), "runs": args.runs,
           "epochs": args.epochs, "train_images": len(dataset.train), "before": before,
           "after": after, "wall_ratio": before["wall_s"] / after["wall_s"]}  # fmt: skip
    for name in ("before", "after"):
        r = out[name]
        how = f"1 process x {out['threads_before']} threads" if name == "before" else (
            f"{cores} workers x 1 thread")  # fmt: skip
        print(f"{name:6} {how:<24} wall {r['wall_s']:6.1f} s  CPU {r['cpu_s']:6.1f} s  "
              f"load {r['load_before']:.1f} -> {r['load_after']:.1f}")  # fmt: skip
    print(f"after is {out['wall_ratio']:.2f} times as fast by wall time")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
