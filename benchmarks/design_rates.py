"""One CPU core's training and prediction rates for every design a full-profile build trains.

For each distinct design of the workload (:mod:`workload`: the settings a step's cost
depends on, e.g. the CNN with 7 x 7 kernels, or the MLP on 100 images), trains it in
``fmnist_edu``'s own training loop on the subset at one thread, timed by CPU time (which
the other programs on a shared machine hardly change), after a short warm-up:

- ``train_images_per_s``: training image passes per CPU second, over at least
  ``--passes`` image passes; a run on ``limit`` images runs its many short epochs, so
  their per-epoch cost (and the small last batch) is in its rate;
- ``predict_images_per_s``: images predicted (validation, test) per CPU second.

With ``--before``, first the same two rates as the code trained and predicted before issue
18 (``before_*``: :func:`before_after.before`, :func:`before_after.old_predict`), and how
much faster the default CNN trains at all of this machine's threads than at one, by wall
time (``before_threads``): the old code trained one run at a time at all threads.

Run: ``python benchmarks/design_rates.py --store STORE [--json FILE] [--passes 6000]
[--before]``.
A figure, not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import before_after  # noqa: E402
import workload  # noqa: E402

from fmnist_edu import data, training  # noqa: E402
from fmnist_edu.errors import FmnistEduError  # noqa: E402
from fmnist_edu.experiments import Experiment  # noqa: E402
from fmnist_edu.experiments.runner import initial_model, prepare_splits  # noqa: E402


def experiment_of(config: dict) -> Experiment:
    """The experiment a stored run record describes (JSON lists back to tuples)."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    return Experiment(**fields)


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def measure(
    config: dict, dataset: data.FashionMNIST, passes: int, predict=training.predict
) -> dict[str, float]:
    """Train ``config``'s design for about ``passes`` image passes; return its rates
    (``predict`` times the prediction path: the current one, or the old one)."""
    experiment = dataclasses.replace(experiment_of(config), validate="none", seed=0)
    train_split, val_split = prepare_splits(experiment, dataset)
    epochs = max(1, math.ceil(passes / len(train_split)))
    kwargs = {"batch_size": experiment.batch_size, "lr": experiment.lr, "progress": False}
    kwargs |= {"augment": experiment.augment, "validate": "none"}
    device = torch.device("cpu")
    warm = initial_model(experiment)
    training.train(warm, train_split, None, epochs=1, device=device, **kwargs)
    model = initial_model(experiment)
    wall = time.perf_counter()
    seconds = _cpu(lambda: training.train(model, train_split, None, epochs=epochs, device=device,
                                          **kwargs))  # fmt: skip
    wall = time.perf_counter() - wall
    predict(model, val_split)  # warm-up of the prediction path
    test = dataset.test
    predict_s = _cpu(lambda: [predict(model, test) for _ in range(3)])
    return {
        "design": workload.design_name(json.loads(workload.rate_key(config))),  # cost only
        "train_images_per_s": len(train_split) * epochs / seconds,
        "train_passes_timed": len(train_split) * epochs,
        "train_wall_images_per_s": len(train_split) * epochs / wall,
        "predict_images_per_s": 3 * len(test) / predict_s,
    }


def thread_speedup(dataset: data.FashionMNIST, passes: int) -> dict[str, float]:
    """How many times faster, by wall time, the default CNN trains at all threads than at one."""
    config = {"model": "cnn", "batch_size": 128}
    rates = {}
    for threads in (1, os.cpu_count() or 1):
        torch.set_num_threads(threads)
        rates[threads] = measure(config, dataset, passes)["train_wall_images_per_s"]
    torch.set_num_threads(1)
    threads = max(rates)
    return {"threads": threads, "speedup": rates[threads] / rates[1]}


def before_rates(configs: dict, dataset: data.FashionMNIST, passes: int) -> dict:
    """Every design's rates as the code before issue 18 trained and predicted."""
    out = {}
    with before_after.before():
        for key, config in configs.items():
            r = measure(config, dataset, passes, before_after.old_predict)
            out[key] = {"before_train_images_per_s": r["train_images_per_s"],
                        "before_predict_images_per_s": r["predict_images_per_s"]}  # fmt: skip
            print(f"BEFORE {r['design']:<33} train {r['train_images_per_s']:>9,.0f} img/s   "
                  f"predict {r['predict_images_per_s']:>9,.0f} img/s", flush=True)  # fmt: skip
        scaling = thread_speedup(dataset, passes)
    print(f"BEFORE one run at {scaling['threads']} threads trains {scaling['speedup']:.2f} times "
          "as fast as at one (wall time)", flush=True)  # fmt: skip
    return {"rates": out, "threads": scaling}


def main() -> None:
    """Measure every design of the store's workload; print a table, write ``--json``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True, help="results store of a cold full-profile build")
    p.add_argument("--json", help="write the rates here")
    p.add_argument("--passes", type=int, default=6000, help="image passes timed per design")
    p.add_argument("--plan", action="store_true", help="add the designs planned.py lists")
    p.add_argument("--reuse", help="an earlier --json: keep its rates, measure only new designs")
    p.add_argument("--before", action="store_true", help="first measure the code before issue 18")
    args = p.parse_args()
    try:
        runs = workload.stored_runs(args.store)
        dataset = data.load()
        if args.reuse:
            json.loads(Path(args.reuse).read_text())["rates"]
    except (workload.WorkloadError, FmnistEduError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    torch.set_num_threads(1)
    configs = {r.rate_key: r.config for r in runs}
    if args.plan:  # the designs of chapters a partial build did not reach, too
        import planned

        available = max(r.train_images for r in runs if not r.config.get("limit"))
        for experiments in planned.chapter_plans(available).values():
            for e in experiments:
                configs.setdefault(workload.rate_key(e.config()), e.config())
    before = before_rates(configs, dataset, args.passes) if args.before else None  # first
    rates = json.loads(Path(args.reuse).read_text())["rates"] if args.reuse else {}
    rates = {key: rates[key] for key in configs if key in rates}
    for key, config in configs.items():
        if "train_images_per_s" not in rates.get(key, {}):
            rates[key] = measure(config, dataset, args.passes)
        if before:
            rates[key] |= before["rates"][key]
        r = rates[key]
        print(f"AFTER  {r['design']:<33} train {r['train_images_per_s']:>9,.0f} img/s   "
              f"predict {r['predict_images_per_s']:>9,.0f} img/s", flush=True)  # fmt: skip
    out = {
        "threads": 1,
        "timed_by": "CPU time (time.process_time) at one torch thread",
        "machine": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
        "torch": torch.__version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rates": rates,
    }
    if before:
        out["before_threads"] = before["threads"]
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
