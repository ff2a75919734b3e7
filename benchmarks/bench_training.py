"""Training speed of the book's loop: images per second, against the machine's sgemm peak.

Prints, in one run:

- the machine (CPU, threads, load average) and its sgemm peak: the best GFLOP/s of
  float32 2048 x 2048 matrix products through torch (MKL or OpenBLAS), measured before
  and after the models, so load from other programs shows in both;
- for the MLP and the CNN at batch 128: the floating-point operations of one training
  image (forward and backward, counted by ``torch.utils.flop_counter``), and on the CPU
  the images per second of ``fmnist_edu.training.train`` (best epoch after a warm-up
  epoch) with the GFLOP/s and fraction of the sgemm peak that makes;
- BEFORE and AFTER issue 18, each figure in the same run: BEFORE is the CNN's modules
  run one by one in training (``CNN.fuse = False``), glibc's default handling of freed
  memory (no :func:`fmnist_edu.training.keep_freed_memory`) and ``predict``'s old
  settings (the weights as read back from the store, batches of 1,024); AFTER is the
  package as it is. BEFORE runs first: the memory setting cannot be undone in a process;
- ``predict`` on the test images, BEFORE and AFTER, by CPU time, and whether the predicted
  classes are identical;
- the share of validation in a run's time on the full release (54,000 training images,
  6,000 validation images), from the measured training and evaluation rates: for one
  full-size epoch, and for the Inductive-bias chapter's sample-efficiency study (100 to
  2,000 images, each seeing as many images as 10 epochs on all), which validated after
  every epoch BEFORE and not at all AFTER;
- on a GPU, when one is present: images per second of the same deterministic loop with
  and without the CUDA graph (and the CNN's modules one by one, with the graph), on the
  training images repeated to 60,000 (the size of the full release), so that an epoch is
  long enough to time.

Run: ``python benchmarks/bench_training.py [--epochs 3] [--data-dir PATH] [--json FILE]``
(``make bench``). With ``--threads 1`` it also times by CPU time, which the load of
other programs hardly changes. ``--profile cpu|cuda`` prints ``torch.profiler`` tables of a
few CNN training steps instead (top 15 operators by own time), BEFORE and AFTER;
``--dataloader`` adds the usual
tutorial pipeline (a per-sample PIL ``Dataset`` in a ``DataLoader``) for comparison.
A figure, not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time

import torch
from before_after import before, predict_report, validation_report
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from fmnist_edu import data, models, training
from fmnist_edu.errors import FmnistEduError

BATCH = 128
FULL_TRAIN = 60_000
MODELS = ("mlp", "cnn")


def sgemm_peak(side: int = 2048, repeats: int = 7, clock=time.perf_counter) -> float:
    """Return the best float32 matrix-product rate, in GFLOP/s, with torch's threads."""
    a, b = torch.randn(side, side), torch.randn(side, side)
    a @ b  # the first product pays for thread start-up and page faults
    best = 0.0
    for _ in range(repeats):
        start = clock()
        a @ b
        best = max(best, 2 * side**3 / max(clock() - start, 1e-9))
    return best / 1e9


def flops_per_image(name: str) -> float:
    """Count the floating-point operations of one training step per image (fwd + bwd)."""
    model = models.build_model(name)
    x = torch.rand(BATCH, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), torch.zeros(BATCH, dtype=torch.long)).backward()
    return counter.get_total_flops() / BATCH


def epoch_rates(name: str, split: data.Split, epochs: int, device: str, **kwargs) -> list[float]:
    """Train a fresh model for 1 + ``epochs`` epochs; return images/s of all but the first."""
    training.seed_everything(0)
    history = training.train(
        models.build_model(name), split, None, epochs=1 + epochs, batch_size=BATCH,
        device=torch.device(device), progress=False, **kwargs,
    )  # fmt: skip
    return [len(split) / e.seconds for e in history.epochs[1:]]


def on_cpu_rate(name: str, split: data.Split, epochs: int) -> float:
    """Images/s of training by the process's CPU time: with one thread, other programs'
    load (which steals wall time, not CPU time) hardly changes it."""
    epoch_rates(name, split, 0, "cpu")  # warm-up
    start = time.process_time()
    epoch_rates(name, split, epochs - 1, "cpu")
    return epochs * len(split) / (time.process_time() - start)


def repeated(split: data.Split, n: int) -> data.Split:
    """Return ``split``'s images repeated (in order) up to ``n`` images."""
    index = torch.arange(n) % len(split)
    return data.Split(split.images[index], split.labels[index])


def machine() -> str:
    """Describe the CPU, the thread count and the load, for the record."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count() or 1
    note = f" (busy: more runnable tasks than the {cores} CPUs)" if load > cores else ""
    return (
        f"{cpu}, {torch.get_num_threads()} threads of {cores} CPUs, load average "
        f"{load:.1f}{note}; torch {torch.__version__}"
    )


def _fraction(rate: float, flops: float, peak: float) -> str:
    gflops = rate * flops / 1e9
    return f"{gflops:5.1f} GFLOP/s = {gflops / peak:.2f} of sgemm peak"


def _measure(split: data.Split, epochs: int, when: str, by_cpu_time: bool) -> dict:
    """Per model: images/s of each timed epoch, and (``by_cpu_time``) by CPU time."""
    with before() if when == "before" else contextlib.nullcontext():
        rates = {name: {"epochs": epoch_rates(name, split, epochs, "cpu")} for name in MODELS}
        if by_cpu_time:
            for name in MODELS:
                rates[name]["by_cpu_time"] = on_cpu_rate(name, split, epochs)
    return rates


def cpu_report(split: data.Split, epochs: int, results: dict) -> None:
    """Measure and print CPU images/s and the fraction of the sgemm peak, per model,
    BEFORE and AFTER.

    BEFORE runs first, even before the sgemm peak: glibc raises its threshold for
    mapping fresh memory after freeing a large block (such as the peak's 16 MB
    matrices), which would hide from BEFORE part of the cost that a fresh process pays.
    """
    by_cpu_time = torch.get_num_threads() == 1  # robust to other programs' load
    rates = {"before": _measure(split, epochs, "before", by_cpu_time)}
    peaks = [sgemm_peak()]
    rates["after"] = _measure(split, epochs, "after", by_cpu_time)
    peaks.append(sgemm_peak())
    peak = max(peaks)
    print(f"sgemm peak: {peak:,.0f} GFLOP/s (best of {len(peaks)} rounds: "
          f"{', '.join(f'{p:,.0f}' for p in peaks)})")  # fmt: skip
    results["cpu"] = {"sgemm_gflops": peak, "threads": torch.get_num_threads()}
    if by_cpu_time:
        cpu_peak = results["cpu"]["sgemm_by_cpu_time"] = sgemm_peak(clock=time.process_time)
    for name in MODELS:
        flops = flops_per_image(name)
        results["cpu"][name] = {"flops": flops}
        for when in ("before", "after"):
            per_epoch = rates[when][name]["epochs"]
            best, median = max(per_epoch), statistics.median(per_epoch)
            print(f"cpu  {name} {when.upper():6}: {flops / 1e6:5.1f} MFLOP/image | {best:8,.0f} "
                  f"img/s best epoch (median {median:,.0f}) | "
                  f"{_fraction(best, flops, peak)}")  # fmt: skip
            figures = {"images_per_s": best, "median": median,
                       "peak_fraction": best * flops / 1e9 / peak}  # fmt: skip
            if by_cpu_time:
                rate = rates[when][name]["by_cpu_time"]
                print(f"cpu  {name} {when.upper():6}: {rate:8,.0f} img/s by CPU time (1 thread, "
                      f"sgemm {cpu_peak:,.0f} GFLOP/s by CPU time) | "
                      f"{_fraction(rate, flops, cpu_peak)}")  # fmt: skip
                figures |= {"by_cpu_time": rate,
                            "peak_fraction_by_cpu_time": rate * flops / 1e9 / cpu_peak}  # fmt: skip
            results["cpu"][name] |= figures if when == "after" else {"before": figures}


def gpu_report(split: data.Split, epochs: int, results: dict) -> None:
    """Measure and print GPU images/s with and without the CUDA graph, per model."""
    big = repeated(split, FULL_TRAIN)
    results["cuda"] = {"device": torch.cuda.get_device_name()}
    print(f"GPU: {results['cuda']['device']}, {len(big):,} images (the training images "
          f"repeated), batch {BATCH}, deterministic kernels")  # fmt: skip
    for name in ("mlp", "cnn"):
        figures = {}
        for graph in (True, False):
            figures[graph] = max(epoch_rates(name, big, epochs, "cuda", cuda_graph=graph))
        speedup = figures[True] / figures[False]
        print(f"cuda {name}: {figures[True]:9,.0f} img/s with the CUDA graph | "
              f"{figures[False]:9,.0f} img/s plain loop | {speedup:.1f}x")  # fmt: skip
        results["cuda"][name] = {"images_per_s": figures[True], "plain": figures[False]}
        if name == "cnn":
            with before():
                unfused = max(epoch_rates(name, big, epochs, "cuda"))
            print(f"cuda cnn BEFORE (modules one by one, CUDA graph): {unfused:9,.0f} img/s")
            results["cuda"][name]["before"] = {"images_per_s": unfused}


def profile(split: data.Split, device: str, steps: int = 12) -> None:
    """Print torch.profiler tables of ``steps`` CNN training steps, BEFORE and AFTER."""
    for when in ("before", "after"):
        print(f"--- {when.upper()}")
        with before() if when == "before" else contextlib.nullcontext():
            _profile(split, device, steps)


def _profile(split: data.Split, device: str, steps: int) -> None:
    """Print a torch.profiler table of ``steps`` CNN training steps (plain loop)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    part = split.subset(torch.arange(min(len(split), steps * BATCH)))
    epoch_rates("cnn", part, 1, device, cuda_graph=False)  # warm up the kernels
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profiler(activities=activities) as prof:
        epoch_rates("cnn", part, 0, device, cuda_graph=False)
    sort = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    print(f"CNN, {len(part)} images, batch {BATCH}, {device}, {torch.get_num_threads()} threads")
    averages = prof.key_averages()
    print(averages.table(sort_by=sort, row_limit=15, max_name_column_width=48))
    busy = sum(getattr(e, sort) for e in averages) / steps  # microseconds per step
    print(f"{'GPU kernels' if device == 'cuda' else 'CPU operators'}: {busy:,.0f} us per step "
          f"of {BATCH} images: at most {BATCH / busy * 1e6:,.0f} img/s if nothing else "
          f"took time")  # fmt: skip


def dataloader_report(split: data.Split, epochs: int) -> None:
    """Print images/s of the tutorial pipeline: uint8 -> PIL -> ToTensor, per sample."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms import ToTensor

    class PilDataset(Dataset):
        def __len__(self) -> int:
            return len(split)

        def __getitem__(self, i: int):
            return ToTensor()(Image.fromarray(split.images[i].numpy(), mode="L")), split.labels[i]

    for name in ("mlp", "cnn"):
        model = models.build_model(name)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in range(epochs):
            for x, y in DataLoader(PilDataset(), batch_size=BATCH, shuffle=True):
                loss = nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        rate = epochs * len(split) / (time.perf_counter() - start)
        print(f"cpu  {name}: per-sample PIL DataLoader {rate:8,.0f} img/s")


def main() -> None:
    """Run the benchmark; a missing or broken data folder is a one-line error, exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per model")
    parser.add_argument("--data-dir")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--profile", choices=["cpu", "cuda"], help="print an op breakdown")
    parser.add_argument("--dataloader", action="store_true", help="add the DataLoader figure")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU figures")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        dataset = data.load(args.data_dir)
        split = dataset.train
    except FmnistEduError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"{machine()}\n{len(split):,} training images, {args.epochs} timed epochs per model")
    if args.profile:
        profile(split, args.profile)
        return
    results: dict = {"machine": machine(), "images": len(split)}
    if not args.no_cpu:
        cpu_report(split, args.epochs, results)
        predict_report(dataset, results)
        validation_report(dataset, results, lambda name: on_cpu_rate(name, dataset.train, 2))
    if args.dataloader:
        dataloader_report(split, args.epochs)
    if torch.cuda.is_available():
        gpu_report(split, args.epochs, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
