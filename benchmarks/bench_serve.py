"""Serving latency and throughput: the local endpoint with the PyTorch and ONNX backends.

Starts ``fmnist-edu serve`` on a free loopback port for each backend (a child process,
always stopped at the end) and sends single-image JSON requests of a real test image with
1, 8 and 32 connections at once, each run bounded in requests and in seconds
(:func:`fmnist_edu.deploy.loadtest.measure`). Prints p50 and p99 latency and requests per
second, and the server process's CPU time per request (read from ``/proc``, Linux only):
unlike the timings, that hardly depends on what else the machine is doing, and one core
divided by it bounds the requests per second one server process can answer. The targets
on a 2-core machine: p50 <= 3 ms with one connection and >= 800 requests/s with eight.

Run: ``python benchmarks/bench_serve.py [--archive model.tar.gz] [--requests 2000]
[--seconds 20] [--data-dir PATH]``. Without ``--archive`` it packages the CNN of the quick
profile (3 epochs, seed 0), from the results store when it is there. A figure, not a test:
the client shares the machine with the server, and other load on the machine shows in
every number (see ``uptime``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from fmnist_edu import data, experiments
from fmnist_edu.deploy import archive, loadtest, local, payloads
from fmnist_edu.errors import FmnistEduError

CONCURRENCY = (1, 8, 32)
TARGETS = {1: "p50 <= 3 ms", 8: ">= 800 requests/s"}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, or NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _archive(folder: Path, data_dir: str | None) -> Path:
    experiment = experiments.Experiment(model="cnn", epochs=3, seed=0)
    result = experiments.run(experiment, data.load(data_dir))
    return archive.package(result.model(), folder, archive.about(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", help="a model.tar.gz (default: package the quick CNN)")
    parser.add_argument("--requests", type=int, default=2000, help="per run (default 2000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per run at most")
    parser.add_argument("--data-dir", help="data folder (default: FMNIST_EDU_DATA, data/)")
    args = parser.parse_args(argv)
    try:
        image = data.load(args.data_dir).test.images[0].numpy()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(args.archive) if args.archive else _archive(Path(tmp), args.data_dir)
            body = payloads.to_json(image)
            print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
                  f"{args.requests:,} requests or {args.seconds:g} s per run")  # fmt: skip
            print(f"{'backend':<8}{'conns':>6}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}"
                  f"{'req/s':>8}{'failed':>8}{'cpu ms':>8}  target")  # fmt: skip
            for backend in ("torch", "onnx"):
                with local.endpoint(path, backend=backend, stop_after=600) as server:
                    loadtest.measure(server.url, body, concurrency=8, requests=100)  # warm
                    for conns in CONCURRENCY:
                        before = cpu_seconds(server.process.pid)
                        r = loadtest.measure(server.url, body, concurrency=conns,
                                             requests=args.requests, max_seconds=args.seconds,
                                             warmup=0)  # fmt: skip
                        cpu = (cpu_seconds(server.process.pid) - before) * 1000 / r.requests
                        print(f"{backend:<8}{conns:>6}{r.requests:>10,}{r.p50:>9.2f}"
                              f"{r.p99:>9.2f}{r.per_second:>8,.0f}{r.failures:>8}{cpu:>8.2f}  "
                              f"{TARGETS.get(conns, '')}", flush=True)  # fmt: skip
    except FmnistEduError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
