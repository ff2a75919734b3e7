"""Estimate the training time of a full-profile build on the full release, chapter by chapter.

The full data is not available on the machines that build the quick book, so the full
build's training time is computed, not measured, from three measurements:

1. the workload (:mod:`workload`): every run a cold full-profile build on the subset
   trained, read from its results store (each entry's settings, images, epochs, wall and
   CPU seconds), the page that trained it (from the build's execution cache), and the same
   run on the full release (54,000 training images; the sample-efficiency runs' epochs
   scaled so each sees as many images as a whole run);
2. one CPU core's rates for each design (``design_rates.py``: training and prediction
   images per CPU second at one thread), so a 7 x 7 CNN costs what a 7 x 7 CNN costs;
3. optionally a GPU's rates (``bench_training.py --json`` on a GPU: the MLP's and the
   CNN's; other designs are costed at their family's rate) and the batched-seed speed-up
   (``bench_batched.py --json``).

Targets, per chapter and for the book (chapters execute one after the other):

- one CPU core: the sum of the runs' core-seconds;
- a ``--cores``-core runner (a GitHub-hosted runner has 4): the chapter's runs packed on
  its cores, one run per core at one thread (longest first, each to the least-loaded core);
- N Dask workers, each one such core: the chapter's total / N, never below its longest run;
- one GPU, when measured; else the row says so;
- batched seeds: the per-core total times bench_batched's measured solo/batched ratio;
- BEFORE issue 18, when the rates hold ``design_rates.py --before``'s: each run at its
  design's old rates, validating every epoch, one run at a time at all of the runner's
  threads (costed at the speed-up measured here from one thread to all, per thread).

Run: ``python benchmarks/full_estimate.py --store STORE --cache BUILD/_build/.jupyter_cache
--rates rates.json [--batched bench_batched.json] [--gpu bench.json] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import workload  # noqa: E402

TARGET_HOURS = 2.0  # issue 18: the whole book on a 4-core runner in under 2 h
MARGIN = 2.0  # the build step's limit over the estimate: other cores, chapters not yet packed
JOB_LIMIT_MIN = 360  # GitHub-hosted runners stop any job after 6 hours
SETUP_MIN = 30  # the job's other steps: install, caches, data, upload


def workflow_timeouts(runner_seconds: float) -> dict[str, int]:
    """``timeout-minutes`` of book.yml's build step and job, from the runner's estimate.

    The step gets ``MARGIN`` times the estimate, rounded up to 10 minutes, but leaves the
    job's other steps ``SETUP_MIN`` within GitHub's ``JOB_LIMIT_MIN``; ``capped`` says
    when that limit, not the margin, set it (then a first cold build needs more than one
    workflow run, each resuming from the cached results store).
    """
    wanted = math.ceil(MARGIN * runner_seconds / 600) * 10
    step = min(wanted, JOB_LIMIT_MIN - SETUP_MIN)
    return {"step": step, "job": step + SETUP_MIN, "capped": int(wanted > step)}


def core_seconds(run: workload.Run, rates: dict) -> float:
    """One core's CPU seconds for ``run`` on the full release: training, validation, test."""
    rate = rates[run.rate_key]
    full = run.full
    predicted = full["val_passes"] + full["test_images"]
    return (
        full["train_passes"] / rate["train_images_per_s"] + predicted / rate["predict_images_per_s"]
    )


def subset_core_seconds(run: workload.Run, rates: dict) -> float:
    """One core's CPU seconds for ``run`` as the cold build on the subset trained it."""
    rate = rates[run.rate_key]
    predicted = run.val_images * run.validated_epochs + run.test_images
    return (
        run.train_images * run.epochs / rate["train_images_per_s"]
        + predicted / rate["predict_images_per_s"]
    )


def packed(seconds: list[float], cores: int) -> float:
    """Makespan of independent runs on ``cores`` cores, longest first to the least loaded."""
    loads = [0.0] * max(1, cores)
    heapq.heapify(loads)
    for s in sorted(seconds, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + s)
    return max(loads)


def before_core_seconds(run: workload.Run, rates: dict) -> float:
    """One core's CPU seconds for ``run`` on the full release as the code before issue 18
    ran it: the old training and prediction paths, and validation after every epoch."""
    rate = rates[run.rate_key]
    full = run.full
    predicted = workload.FULL_VAL_IMAGES * full["epochs"] + full["test_images"]
    return (
        full["train_passes"] / rate["before_train_images_per_s"]
        + predicted / rate["before_predict_images_per_s"]
    )


def thread_efficiency(scaling: dict | None) -> float:
    """Per-thread efficiency of one run at all threads (measured speed-up / threads, <= 1)."""
    return min(1.0, scaling["speedup"] / scaling["threads"]) if scaling else 1.0


def gpu_seconds(run: workload.Run, gpu: dict) -> float:
    """A GPU's seconds for ``run``, at its family's measured training rate."""
    family = "mlp" if run.config.get("model") == "mlp" else "cnn"
    return run.full["train_passes"] / gpu[family]["images_per_s"]


def estimate(
    runs: list[workload.Run],
    rates: dict,
    cores: int = 4,
    workers: tuple[int, ...] = (4, 16),
    gpu: dict | None = None,
    batched_ratio: float | None = None,
    before_threads: dict | None = None,
) -> dict:
    """Per chapter and for the book: runs, measured subset seconds, and each target's seconds
    (and BEFORE's, when every rate has a ``before_*`` pair; ``before_threads`` is
    ``design_rates.py``'s measured thread speed-up)."""
    before = all("before_train_images_per_s" in rates[r.rate_key] for r in runs)
    efficiency = thread_efficiency(before_threads)
    by_chapter: dict[str, list[workload.Run]] = defaultdict(list)
    for run in runs:
        by_chapter[run.chapter].append(run)
    chapters = {}
    for name, rs in by_chapter.items():
        secs = [core_seconds(r, rates) for r in rs]
        subset = [subset_core_seconds(r, rates) for r in rs]
        longest = max(secs)
        row = {
            "runs": len(rs),
            "runs_from_store": sum(r.source == "store" for r in rs),
            "designs": sorted({r.design for r in rs}),
            "subset_train_wall_s": sum(r.wall_seconds for r in rs),
            "subset_cpu_s": sum(r.cpu_seconds or 0.0 for r in rs),
            "subset_one_core_s": sum(subset),
            "subset_2_cores_s": packed(subset, 2),
            "full_train_passes": sum(r.full["train_passes"] for r in rs),
            "one_core_s": sum(secs),
            "longest_run_s": longest,
            f"runner_{cores}_cores_s": packed(secs, cores),
            "dask_s": {str(n): max(sum(secs) / n, longest) for n in workers},
        }
        if gpu:
            row["gpu_s"] = sum(gpu_seconds(r, gpu) for r in rs)
        if batched_ratio:
            row["batched_one_core_s"] = sum(secs) / batched_ratio
        if before:
            row["before_one_core_s"] = sum(before_core_seconds(r, rates) for r in rs)
            row[f"before_runner_{cores}_cores_s"] = row["before_one_core_s"] / (cores * efficiency)
        chapters[name] = row
    book = {
        key: sum(c[key] for c in chapters.values())
        for key in ("runs", "runs_from_store", "subset_train_wall_s", "subset_cpu_s",
                    "subset_one_core_s", "subset_2_cores_s", "full_train_passes",
                    "one_core_s", f"runner_{cores}_cores_s")
    }  # fmt: skip
    book["longest_run_s"] = max(c["longest_run_s"] for c in chapters.values())
    book["dask_s"] = {str(n): sum(c["dask_s"][str(n)] for c in chapters.values()) for n in workers}
    if gpu:
        book["gpu_s"] = sum(c["gpu_s"] for c in chapters.values())
    if batched_ratio:
        book["batched_one_core_s"] = book["one_core_s"] / batched_ratio
    if before:
        for key in ("before_one_core_s", f"before_runner_{cores}_cores_s"):
            book[key] = sum(c[key] for c in chapters.values())
    runner = book[f"runner_{cores}_cores_s"]
    return {
        "timeouts_min": workflow_timeouts(runner),
        "cores": cores,
        "workers": list(workers),
        "target_hours": TARGET_HOURS,
        "target_met": runner <= TARGET_HOURS * 3600,
        "gpu": gpu.get("device") if gpu else None,
        "batched_ratio": batched_ratio,
        "before_threads": before_threads,
        "before_thread_efficiency": efficiency if before else None,
        "chapters": dict(sorted(chapters.items(), key=lambda kv: -kv[1]["one_core_s"])),
        "book": book,
    }


def hours(seconds: float) -> str:
    """Format a duration as hours and minutes (``"3 h 05 min"``, ``"12 min"``)."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def markdown(result: dict) -> str:
    """The per-chapter table and the book's targets, as Markdown (the README's tables)."""
    cores, workers = result["cores"], result["workers"]
    before = "before_one_core_s" in result["book"]
    head = ["chapter", "runs", "one core", f"{cores}-core runner"]
    head += [f"{n} Dask workers" for n in workers] + ["one GPU"]
    head += ["before: one core", f"before: {cores}-core runner"] if before else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = list(result["chapters"].items()) + [("whole book", result["book"])]
    for name, c in rows:
        gpu = hours(c["gpu_s"]) if "gpu_s" in c else "not measured: no GPU lent"
        cells = [name, str(c["runs"]), hours(c["one_core_s"]), hours(c[f"runner_{cores}_cores_s"])]
        cells += [hours(c["dask_s"][str(n)]) for n in workers] + [gpu]
        if before:
            cells += [hours(c["before_one_core_s"]), hours(c[f"before_runner_{cores}_cores_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def before_after_line(result: dict) -> str:
    """The book's BEFORE and AFTER on one core and on the runner, in one line."""
    book, cores = result["book"], result["cores"]
    runner = f"runner_{cores}_cores_s"
    after = f"AFTER one core {hours(book['one_core_s'])}, {cores}-core runner {hours(book[runner])}"
    if "before_one_core_s" not in book:
        return after + " (no BEFORE: the rates lack design_rates.py --before)"
    scaling = result["before_threads"] or {}
    return (
        f"BEFORE one core {hours(book['before_one_core_s'])}, {cores}-core runner "
        f"{hours(book['before_' + runner])} (one run at a time at {cores} threads, "
        f"{result['before_thread_efficiency']:.0%} per thread as measured at "
        f"{scaling.get('threads', '?')}) | {after} (one run per core) | "
        f"{book['before_' + runner] / book[runner]:.1f}x on the runner"
    )


def _load(path: str | None) -> dict | None:
    return json.loads(Path(path).read_text()) if path else None


def batched_ratio(bench: dict) -> float:
    """Solo over batched CPU time for the CNN (the book's costly runs) from bench_batched."""
    return float(bench["cpu"]["cnn"]["speedup"])


def main() -> None:
    """Print the table; write ``--json``; a bad input is a one-line error, exit 1."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True, help="results store of a cold full-profile build")
    p.add_argument("--cache", required=True, help="that build's _build/.jupyter_cache")
    p.add_argument("--rates", required=True, help="design_rates.py --json")
    p.add_argument("--batched", help="bench_batched.py --json (CPU)")
    p.add_argument("--gpu", help="bench_training.py --json from a GPU machine")
    p.add_argument("--cores", type=int, default=4)
    p.add_argument("--workers", type=int, nargs="*", default=[4, 16])
    p.add_argument("--json", help="write the estimate here")
    p.add_argument("--plan", action="store_true",
                   help="add the runs of chapters the build did not reach")  # fmt: skip
    args = p.parse_args()
    try:
        pages = workload.page_windows(args.cache)
        runs = workload.assign_chapters(workload.stored_runs(args.store), pages)
        if args.plan:
            import planned

            runs = planned.complete(runs)
        runs = workload.sized(runs)
        rates_file = _load(args.rates)
        rates, scaling = rates_file["rates"], rates_file.get("before_threads")
        missing = {r.design for r in runs if r.rate_key not in rates}
        if missing:
            raise workload.WorkloadError(f"{args.rates}: no rate for {sorted(missing)}")
        gpu = _load(args.gpu)
        gpu = gpu["cuda"] | {"device": gpu["cuda"].get("device", "GPU")} if gpu else None
        ratio = batched_ratio(_load(args.batched)) if args.batched else None
    except (OSError, KeyError, ValueError, workload.WorkloadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    result = estimate(runs, rates, args.cores, tuple(args.workers), gpu, ratio, scaling)
    result["subset_pages_s"] = {p.name: p.seconds for p in pages}  # the cold build's pages
    result["runs"] = [
        {"chapter": r.chapter, "source": r.source, "design": r.design, "config": r.config,
         "full": r.full,
         "subset_train_wall_s": r.wall_seconds, "subset_cpu_s": r.cpu_seconds,
         "one_core_s": core_seconds(r, rates), "subset_one_core_s": subset_core_seconds(r, rates)}
        for r in runs
    ]  # fmt: skip
    print(markdown(result))
    print(before_after_line(result))
    t = result["timeouts_min"]
    print(f"book.yml: build step timeout-minutes {t['step']}, job {t['job']}"
          + (" (capped by GitHub's job limit)" if t["capped"] else ""))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
