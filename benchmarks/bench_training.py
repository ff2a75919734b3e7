"""Training speed of the book's loop: images per second, against the machine's sgemm peak.

Prints, in one run:

- the machine (CPU, threads, load average) and its sgemm peak: the best GFLOP/s of
  float32 2048 x 2048 matrix products through torch (MKL or OpenBLAS), measured before
  and after the models, so load from other programs shows in both;
- for the MLP and the CNN at batch 128: the floating-point operations of one training
  image (forward and backward, counted by ``torch.utils.flop_counter``), and on the CPU
  the images per second of ``fmnist_edu.training.train`` (best epoch after a warm-up
  epoch) with the GFLOP/s and fraction of the sgemm peak that makes;
- on a GPU, when one is present: images per second of the same deterministic loop with
  and without the CUDA graph, on the training images repeated to 60,000 (the size of the
  full release), so that an epoch is long enough to time.

Run: ``python benchmarks/bench_training.py [--epochs 3] [--data-dir PATH] [--json FILE]``
(``make bench``). With ``--threads 1`` it also times by CPU time, which the load of
other programs hardly changes. ``--profile cpu|cuda`` prints a ``torch.profiler`` table of a few CNN
training steps instead (top 15 operators by own time); ``--dataloader`` adds the usual
tutorial pipeline (a per-sample PIL ``Dataset`` in a ``DataLoader``) for comparison.
A figure, not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from fmnist_edu import data, models, training
from fmnist_edu.errors import FmnistEduError

BATCH = 128
FULL_TRAIN = 60_000


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


def cpu_report(split: data.Split, epochs: int, results: dict) -> None:
    """Measure and print CPU images/s and the fraction of the sgemm peak, per model."""
    peaks = [sgemm_peak()]
    rates = {}
    for name in ("mlp", "cnn"):
        rates[name] = epoch_rates(name, split, epochs, "cpu")
        peaks.append(sgemm_peak())
    peak = max(peaks)
    print(f"sgemm peak: {peak:,.0f} GFLOP/s (best of {len(peaks)} rounds: "
          f"{', '.join(f'{p:,.0f}' for p in peaks)})")  # fmt: skip
    results["cpu"] = {"sgemm_gflops": peak, "threads": torch.get_num_threads()}
    for name, per_epoch in rates.items():
        flops = flops_per_image(name)
        best, median = max(per_epoch), statistics.median(per_epoch)
        gflops = best * flops / 1e9
        print(f"cpu  {name}: {flops / 1e6:5.1f} MFLOP/image | {best:8,.0f} img/s best epoch "
              f"(median {median:,.0f}) | {gflops:5.1f} GFLOP/s = {gflops / peak:.2f} "
              f"of sgemm peak")  # fmt: skip
        results["cpu"][name] = {"images_per_s": best, "median": median, "flops": flops}
    if torch.get_num_threads() == 1:  # the same, timed by CPU time: robust to load
        peak = sgemm_peak(clock=time.process_time)
        print(f"by CPU time (1 thread, robust to other programs' load): sgemm {peak:,.0f} GFLOP/s")
        for name in ("mlp", "cnn"):
            rate = on_cpu_rate(name, split, epochs)
            gflops = rate * results["cpu"][name]["flops"] / 1e9
            print(f"cpu  {name}: {rate:8,.0f} img/s by CPU time | {gflops:5.1f} GFLOP/s = "
                  f"{gflops / peak:.2f} of sgemm peak")  # fmt: skip
            results["cpu"][name]["by_cpu_time"] = rate
        results["cpu"]["sgemm_by_cpu_time"] = peak


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


def profile(split: data.Split, device: str, steps: int = 12) -> None:
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
        split = data.load(args.data_dir).train
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
    if args.dataloader:
        dataloader_report(split, args.epochs)
    if torch.cuda.is_available():
        gpu_report(split, args.epochs, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
