"""The seeds of a design trained one after the other (before) and as one batched model (after).

Prints, in one run, for the MLP and the CNN at batch 128 with ``--seeds`` seeds (5):

- on the CPU: images per second of one solo run (:func:`fmnist_edu.training.train`) and
  seed-images per second of the batched run (:func:`fmnist_edu.batched.train_seeds`),
  timed by CPU time at ``--threads 1`` (the least noisy figure on a loaded machine),
  else by wall time; each after a warm-up;
- on a GPU, when one is present: the same by wall time on the training images repeated
  to 60,000 (the full release's size), solo and batched, with the CUDA graph and without;
- the equivalence of each batched seed with its solo run: the largest weight difference
  after one step and after ``--equiv-epochs`` epochs on the training images, the test
  accuracies of both, and on how many test images their predictions differ.

``batched_images_per_s_per_seed`` counts every seed's images (``S`` seeds of ``N`` images
in ``T`` seconds: ``S * N / T``), so it compares directly with ``solo_images_per_s``:
``S`` seeds take ``S * N / rate`` seconds either way, and their ratio is the speed-up.
``batched_step_images_per_s`` is ``N / T``, how fast each seed moves through its epoch.

Run: ``python benchmarks/bench_batched.py [--threads 1] [--no-cpu] [--json FILE]``.
A figure, not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from fmnist_edu import batched, data, models, training
from fmnist_edu.errors import FmnistEduError

BATCH, FULL_TRAIN = 128, 60_000


def _built(name: str, seeds: list[int]) -> list[torch.nn.Module]:
    out = []
    for seed in seeds:
        training.seed_everything(seed)
        out.append(models.build_model(name))
    return out


def _clock(device: str, cpu_time: bool):
    if device == "cuda":
        return lambda: (torch.cuda.synchronize(), time.perf_counter())[1]
    return time.process_time if cpu_time else time.perf_counter


def solo(name, split, seeds, device, epochs=1, **options) -> list[torch.nn.Module]:
    """Train each seed alone, one after the other; return the models."""
    trained = _built(name, seeds)
    for model, seed in zip(trained, seeds, strict=True):
        training.train(model, split, None, epochs=epochs, seed=seed, device=device,
                       progress=False, **options)  # fmt: skip
    return trained


def together(name, split, seeds, device, epochs=1, **options) -> list[torch.nn.Module]:
    """Train the seeds as one batched model; return the models."""
    trained = _built(name, seeds)
    batched.train_seeds(trained, [split] * len(seeds), [None] * len(seeds), seeds,
                        epochs=epochs, device=device, progress=False, **options)  # fmt: skip
    return trained


def rates(name, split, seeds, device, cpu_time, epochs=1, **options) -> dict:
    """Images/s of solo runs and of the batched run, each timed after a warm-up."""
    clock, n = _clock(device, cpu_time), len(split) * epochs
    warm = data.Split(split.images[: 4 * BATCH], split.labels[: 4 * BATCH])
    out = {"seeds": len(seeds), "images": n}
    for key, trainer in (("solo", solo), ("batched", together)):
        trainer(name, warm, seeds[:2], device, **options)
        start = clock()
        trainer(name, split, seeds, device, epochs, **options)
        out[f"{key}_seconds"] = clock() - start
    out["solo_images_per_s"] = len(seeds) * n / out["solo_seconds"]
    out["batched_images_per_s_per_seed"] = len(seeds) * n / out["batched_seconds"]
    out["batched_step_images_per_s"] = n / out["batched_seconds"]
    out["speedup"] = out["batched_images_per_s_per_seed"] / out["solo_images_per_s"]
    return out


def _gap(a: torch.nn.Module, b: torch.nn.Module) -> float:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return max((p - q).abs().max().item() for p, q in pairs)


def _off(a: torch.nn.Module, b: torch.nn.Module, tolerance: float = 1e-4) -> int:
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    return sum(int(((p - q).abs() > tolerance).sum()) for p, q in pairs)


def equivalence(name, dataset, seeds, device, epochs) -> dict:
    """How far each batched seed is from its solo run, after one step and a whole run."""
    device = torch.device(device)  # predict takes a device, not its name
    one = data.Split(dataset.train.images[:BATCH], dataset.train.labels[:BATCH])
    pairs = list(zip(solo(name, one, seeds, device), together(name, one, seeds, device),
                     strict=True))  # fmt: skip
    out = {
        "one_step_max_abs": max(_gap(a, b) for a, b in pairs),
        "one_step_off": [_off(a, b) for a, b in pairs],  # weights further than 1e-4
        "weights": models.count_parameters(pairs[0][0]),
    }
    a = solo(name, dataset.train, seeds, device, epochs)
    b = together(name, dataset.train, seeds, device, epochs)
    pa = [training.predict(m, dataset.test, device=device) for m in a]
    pb = [training.predict(m, dataset.test, device=device) for m in b]
    accuracy = [[float((p == dataset.test.labels).float().mean()) for p in ps] for ps in (pa, pb)]
    return out | {
        "run_epochs": epochs,
        "run_max_abs": [_gap(x, y) for x, y in zip(a, b, strict=True)],
        "test_accuracy_solo": accuracy[0],
        "test_accuracy_batched": accuracy[1],
        "predictions_differ": [int((x != y).sum()) for x, y in zip(pa, pb, strict=True)],
        "test_images": len(dataset.test),
    }


def _line(device: str, name: str, r: dict) -> str:
    return (f"{device:4} {name:4} solo {r['solo_images_per_s']:>9,.0f} img/s   batched "
            f"{r['batched_images_per_s_per_seed']:>9,.0f} seed-img/s ({r['seeds']} seeds, "
            f"{r['batched_step_images_per_s']:,.0f} img/s each)   x{r['speedup']:.2f}")  # fmt: skip


def _equiv_line(device: str, name: str, e: dict) -> str:
    pairs = zip(e["test_accuracy_solo"], e["test_accuracy_batched"], strict=True)
    acc = ", ".join(f"{100 * a:.1f}/{100 * b:.1f}" for a, b in pairs)
    return (f"{device:4} {name:4} one step: max |dw| {e['one_step_max_abs']:.1e}, weights "
            f"off by > 1e-4: {e['one_step_off']} of {e['weights']};  {e['run_epochs']} "
            f"epochs: max |dw| {max(e['run_max_abs']):.1e}, test % solo/batched {acc}; "
            f"predictions differ on {e['predictions_differ']} of {e['test_images']}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Print the figures; write them as JSON with ``--json``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--equiv-epochs", type=int, default=2)
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU figures")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", default=None, help="write the figures to this file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        dataset = data.load(args.data_dir)
    except FmnistEduError as exc:
        print(f"bench_batched: {exc}", file=sys.stderr)
        return 2
    seeds = list(range(args.seeds))
    cpu_time = torch.get_num_threads() == 1
    results: dict = {"machine": {"threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                                 "load": os.getloadavg(), "torch": torch.__version__}}  # fmt: skip
    devices = ([] if args.no_cpu else ["cpu"]) + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        key = "gpu" if device == "cuda" else "cpu"
        if device == "cuda":
            results["machine"]["gpu"] = torch.cuda.get_device_name()
        clock = "CPU time" if cpu_time and device == "cpu" else "wall time"
        print(f"{key}: batch {BATCH}, {clock}, {torch.get_num_threads()} threads")
        split = dataset.train
        if device == "cuda":
            reps = -(-FULL_TRAIN // len(split))
            split = data.Split(split.images.repeat(reps, 1, 1)[:FULL_TRAIN],
                               split.labels.repeat(reps)[:FULL_TRAIN])  # fmt: skip
        results[key], results.setdefault("equivalence", {})[key] = {}, {}
        for name in ("mlp", "cnn"):
            epochs = 5 if name == "mlp" and device == "cpu" else 1  # long enough to time
            r = rates(name, split, seeds, device, cpu_time, epochs)
            if device == "cuda":
                plain = rates(name, split, seeds, device, False, cuda_graph=False)
                r["no_graph"] = {k: plain[k] for k in plain if "per_s" in k or k == "speedup"}
            results[key][name] = r
            print(_line(key, name, r), flush=True)
        for name in ("mlp", "cnn"):
            e = equivalence(name, dataset, seeds, device, args.equiv_epochs)
            results["equivalence"][key][name] = e
            print(_equiv_line(key, name, e), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
