"""Run a list of experiments, in this process or on a Dask cluster, and keep the store whole.

:func:`run_grid` answers every experiment the results store already holds from the store,
trains the rest, stores them and returns all results in the order asked. By default it
trains here, one after the other. Given a Dask scheduler (an address, or
``FMNIST_EDU_SCHEDULER``) or a number of local workers, it sends each missing experiment
to Dask ``distributed`` as one task:

- **No shared folder.** The dataset is sent to the workers once; each worker trains with
  :func:`fmnist_edu.experiments.compute`, which reads and writes no store, and sends the
  result back. This process is the store's only writer.
- **Nothing stored is sent**, and an experiment asked twice is trained once.
- **A worker that dies** has its task re-run on another by Dask's scheduler (up to its
  ``distributed.scheduler.allowed-failures``, 3 by default, for the same task).
- **The same result on the same kind of machine.** On a CPU, a run gives bit-identical
  weights on machines of the same hardware with the same PyTorch build and the same number
  of torch threads (other CPUs may round differently). The thread
  count changes how sums are split, hence float rounding, so every task sets it:
  ``threads`` if given, else this machine's cores divided among local workers, else (on a
  remote worker) the worker's cores divided among its task slots. A worker whose
  ``fmnist_edu`` training code differs from the caller's is refused: its results would be
  stored under the wrong code version.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Sequence
from typing import Any

import torch
from tqdm import tqdm

from fmnist_edu import data as data_module
from fmnist_edu import experiments as exp_module
from fmnist_edu import optional
from fmnist_edu.errors import ConfigError, FmnistEduError
from fmnist_edu.experiments import Experiment, Result
from fmnist_edu.settings import default_device
from fmnist_edu.store import ResultStore, code_version

SCHEDULER_ENV = "FMNIST_EDU_SCHEDULER"
#: Seconds to reach a scheduler and hear its handshake, and again to finish connecting.
CONNECT_TIMEOUT_S = 30
#: Largest handshake a Dask scheduler sends (it sends about 70 bytes).
MAX_HANDSHAKE = 1 << 16


def _train_task(
    experiment: Experiment, dataset: data_module.FashionMNIST, threads: int | None, code: str
) -> Result:
    """What a Dask worker runs: one experiment, at a set number of torch threads."""
    if code_version() != code:
        raise FmnistEduError(
            f"this Dask worker runs fmnist_edu training code {code_version()}, the caller "
            f"{code}: install the caller's checkout on every worker"
        )
    if threads is None:
        from distributed import get_worker

        threads = max(1, (os.cpu_count() or 1) // get_worker().state.nthreads)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return exp_module.compute(experiment, dataset, progress=False)
    finally:
        torch.set_num_threads(previous)


def _client(scheduler: str | None, workers: int | None, threads: int | None):
    """Return ``(client, cluster or None, torch threads per task)`` for the options."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # an install without the [grid] extra
        raise optional.missing(exc, "grids on Dask") from None
    if workers is not None:
        share = threads or max(1, (os.cpu_count() or 1) // workers)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,  # one run at a time per worker process
            processes=True,
            dashboard_address=":0",  # any free port, never a clash
            silence_logs=logging.CRITICAL,  # not the notes on stopping workers at the end
            env={"OMP_NUM_THREADS": str(share)},
        )
        return Client(cluster), cluster, share
    return _connect(scheduler), None, threads


def _unreachable(scheduler: str | None, problem: str) -> FmnistEduError:
    return FmnistEduError(
        f"cannot reach the Dask scheduler at {scheduler!r} ({problem}); start one with "
        f"'dask scheduler' or unset {SCHEDULER_ENV}"
    )


def _receive(sock: socket.socket, size: int, deadline: float) -> bytes:
    """Read exactly ``size`` bytes before ``deadline`` (``time.monotonic``), or raise."""
    data = b""
    while len(data) < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("it closed the connection without a Dask handshake")
        data += chunk
    return data


def probe(address: str, timeout: float | None = None) -> None:
    """Check that a Dask scheduler answers at ``address`` within ``timeout`` seconds.

    A Dask scheduler greets every new connection with a short handshake: an 8-byte
    little-endian length and that many bytes of msgpack naming, among others, its
    ``pickle-protocol``. Something else at the address (a web server, a service that
    accepts and never answers) would otherwise make ``distributed.Client`` read a
    garbage length, or wait for ever. Addresses other than ``tcp://`` (TLS, UCX) cannot
    be read this way and are left to the client's own timeout.

    Raises:
        FmnistEduError: one line naming the address and what came back, if anything.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location, 8786)  # the port of `dask scheduler`
    except ValueError as exc:
        raise _unreachable(address, str(exc)) from None
    if scheme != "tcp":
        return
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            head = _receive(sock, 8, deadline)
            (size,) = struct.unpack("<Q", head)
            body = _receive(sock, size, deadline) if 0 < size <= MAX_HANDSHAKE else b""
    except TimeoutError:
        raise _unreachable(
            address, f"no Dask handshake within {timeout:g} s; is a Dask scheduler listening?"
        ) from None
    except OSError as exc:
        raise _unreachable(address, exc.strerror or str(exc)) from None
    if b"pickle-protocol" not in body:
        raise _unreachable(
            address, f"it answered {head!r}..., not a Dask handshake: is it a Dask scheduler?"
        )


def _connect(scheduler: str | None) -> Any:
    """A ``distributed.Client`` of the scheduler, probed first and made within a deadline."""
    from distributed import Client

    if scheduler is not None:
        probe(scheduler)
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:  # whatever a half-working peer makes distributed raise
            box["error"] = exc

    thread = threading.Thread(target=connect, daemon=True, name="dask-connect")
    thread.start()
    thread.join(CONNECT_TIMEOUT_S + 5)  # the client's own timeout does not bound it all
    if thread.is_alive():
        raise _unreachable(scheduler, f"not connected after {CONNECT_TIMEOUT_S + 5:g} s")
    if "error" in box:
        exc = box["error"]
        raise _unreachable(scheduler, f"{type(exc).__name__}: {exc}") from None
    return box["client"]


def _check(scheduler: str | None, workers: int | None, threads: int | None) -> str | None:
    if scheduler is not None and workers is not None:
        raise ConfigError(f"workers={workers} and scheduler={scheduler!r}: choose one of the two")
    for name, value in (("workers", workers), ("threads", threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{name}={value!r}: must be a whole number")
        if value is not None and not 1 <= value <= 1024:
            raise ConfigError(f"{name}={value}: must be between 1 and 1,024")
    if scheduler is None and workers is None:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    return scheduler


def run_grid(
    experiments: Sequence[Experiment],
    dataset: data_module.FashionMNIST | None = None,
    store: ResultStore | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    trainer: str | None = None,
) -> list[Result]:
    """Return the result of every experiment, in order: stored ones loaded, the rest trained.

    Args:
        experiments: the runs, e.g. one per design and seed.
        dataset: the data (default: :func:`fmnist_edu.data.load`).
        store: the results store (default: :class:`ResultStore`'s folder).
        scheduler: address of a Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``; default
            ``FMNIST_EDU_SCHEDULER`` when neither this nor ``workers`` is given.
        workers: start a Dask ``LocalCluster`` of this many worker processes here, each
            with its share of this machine's cores as torch threads
            (:func:`local_workers`: one per core on a machine without a GPU).
        threads: torch threads per run on the workers (see the module's docstring).
        progress: show a progress bar over runs; ``None`` shows it only on a terminal.
        trainer: how the seeds of one design are trained here: ``"auto"``, ``"solo"``
            or ``"batched"`` (default ``FMNIST_EDU_TRAINER``, see
            :func:`fmnist_edu.experiments.batches`); Dask workers train one run each.

    Without ``scheduler``, ``workers`` or ``FMNIST_EDU_SCHEDULER``, runs are trained in
    this process with its torch threads, as :func:`fmnist_edu.experiments.run_seeds`
    does: the missing seeds of one design together as one batched model where that pays.

    Raises:
        ConfigError: for both ``scheduler`` and ``workers``, or a bad count.
        FmnistEduError: when the scheduler cannot be reached or a worker runs other code.
        StoreError: when something must be trained and the store cannot be written.
    """
    scheduler = _check(scheduler, workers, threads)
    dataset = dataset or data_module.load()
    store = store or ResultStore()
    results: list[Result | None] = [exp_module.cached(e, dataset, store) for e in experiments]
    missing: dict[str, Experiment] = {}  # one task per distinct configuration
    for experiment, result in zip(experiments, results, strict=True):
        if result is None:
            missing.setdefault(store.key(experiment.config(), dataset.fingerprint), experiment)
    if missing:
        store.check_writable()  # before training, not after
        done = (
            _run_here(missing, dataset, store, progress, trainer)
            if scheduler is None and workers is None
            else _run_on_dask(missing, dataset, store, scheduler, workers, threads, progress)
        )
        for i, experiment in enumerate(experiments):
            if results[i] is None:
                results[i] = done[store.key(experiment.config(), dataset.fingerprint)]
    return results  # type: ignore[return-value]


def local_workers(device: torch.device | None = None) -> int | None:
    """Local worker processes for a grid trained on this machine: one per core, or ``None``.

    On a machine without a GPU that has two or more cores, and when no Dask scheduler is
    named (``FMNIST_EDU_SCHEDULER``), a grid trains fastest as one run per core at one torch
    thread each (``run_grid(..., workers=local_workers())`` then sets ``threads`` to 1):
    a run's threads wait for one another at every step, which wastes cores, and on a busy
    machine most of them (``benchmarks/bench_grid_workers.py`` measures both ways). With a
    GPU, a scheduler or one core, returns ``None``: train in this process, or on the
    scheduler's workers.
    """
    device = device or default_device()
    cores = os.cpu_count() or 1
    if device.type != "cpu" or cores < 2 or os.environ.get(SCHEDULER_ENV):
        return None
    return cores


def _run_here(
    missing: dict[str, Experiment],
    dataset: data_module.FashionMNIST,
    store: ResultStore,
    progress: bool | None,
    trainer: str | None = None,
) -> dict[str, Result]:
    """Train the missing runs here: the seeds of each design together when
    :func:`fmnist_edu.experiments.batches` says so, else one at a time; each result is
    stored as soon as it is made."""
    designs: dict[Experiment, list[str]] = {}
    for key, experiment in missing.items():
        designs.setdefault(dataclasses.replace(experiment, seed=0), []).append(key)
    done = {}
    disable = None if progress is None else not progress
    with tqdm(total=len(missing), desc="runs", disable=disable, leave=False) as bar:
        for keys in designs.values():
            group = [missing[k] for k in keys]
            if exp_module.batches(group, trainer=trainer):
                results = exp_module.compute_seeds(group, dataset, progress=False)
            else:
                results = (exp_module.compute(e, dataset, progress=False) for e in group)
            for key, result in zip(keys, results, strict=True):
                done[key] = result
                exp_module.save(result, dataset, store)
                bar.update()
    return done


def _run_on_dask(
    missing: dict[str, Experiment],
    dataset: data_module.FashionMNIST,
    store: ResultStore,
    scheduler: str | None,
    workers: int | None,
    threads: int | None,
    progress: bool | None,
) -> dict[str, Result]:
    from distributed import KilledWorker, as_completed

    client, cluster, threads = _client(scheduler, workers, threads)
    done: dict[str, Result] = {}
    try:
        shared = client.scatter(dataset, broadcast=True, hash=False)
        futures: dict[Any, str] = {
            client.submit(
                _train_task, e, shared, threads, code_version(), key=f"train-{key}", pure=False
            ): key
            for key, e in missing.items()
        }
        disable = None if progress is None else not progress
        with tqdm(total=len(futures), desc="runs", disable=disable, leave=False) as bar:
            for future in as_completed(futures):
                result = future.result()  # re-raises the worker's error here
                # Keyed by the experiment sent, not its round trip: a builder of the user's
                # own comes back as a copy whose source inspect may no longer find.
                result.experiment = missing[futures[future]]
                done[futures[future]] = result
                exp_module.save(result, dataset, store)  # as each arrives: nothing is lost
                bar.update()
    except KilledWorker as exc:
        raise FmnistEduError(
            f"Dask workers died running {exc.task} again and again (the scheduler's "
            "allowed-failures); is a worker short of memory?"
        ) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return done
