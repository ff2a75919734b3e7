"""Grids of experiments: in this process, and on a real Dask LocalCluster of 2 workers."""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import logging
import os
import socketserver
import sys
import threading

import cloudpickle
import pytest
import torch
from distributed import Client, LocalCluster, get_task_stream
from distributed.diagnostics.plugin import WorkerPlugin

from fmnist_edu import experiments, grid
from fmnist_edu.errors import ConfigError, FmnistEduError
from fmnist_edu.experiments import Experiment
from fmnist_edu.store import ResultStore

TINY = Experiment(epochs=1, limit=200)
GRID = [dataclasses.replace(TINY, seed=0), dataclasses.replace(TINY, kernel_size=1),
        dataclasses.replace(TINY, downsample="stride")]  # fmt: skip
TIMEOUT_S = 240  # a hung cluster fails the test instead of hanging the suite

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/


@pytest.fixture
def one_thread():
    """Train here with 1 torch thread, as each worker does: equal threads, equal bits."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as c:  # fmt: skip
        yield c


@pytest.fixture(scope="module")
def sequential(subset, tmp_path_factory):
    """The grid trained here, one run after the other, at 1 thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store = ResultStore(tmp_path_factory.mktemp("sequential"))
        return grid.run_grid(GRID, subset, store, progress=False)
    finally:
        torch.set_num_threads(previous)


def same_bits(a: experiments.Result, b: experiments.Result) -> bool:
    weights = all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    return weights and a.history.column("loss") == b.history.column("loss") and a.test == b.test


def in_time(call):
    """Run ``call`` in a thread; fail if it takes longer than TIMEOUT_S."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(out=call()), daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    assert not thread.is_alive(), f"the grid did not finish within {TIMEOUT_S} s"
    return box["out"]


def test_here_results_come_in_order_and_duplicates_train_once(subset, store, one_thread):
    asked = [GRID[1], GRID[0], GRID[1]]
    results = grid.run_grid(asked, subset, store, progress=False)
    assert [r.experiment for r in results] == asked
    assert results[0] is results[2] and not results[0].from_store
    again = grid.run_grid(asked, subset, store, progress=False)
    assert all(r.from_store for r in again)
    assert same_bits(again[1], results[1])
    single = experiments.run(GRID[1], subset, store)  # the grid stored what run() reads
    assert single.from_store and same_bits(single, results[0])


def test_local_cluster_gives_the_sequential_bits_and_skips_stored_runs(
    subset, store, cluster, sequential
):
    experiments.save(sequential[0], subset, store)  # stored already: never sent
    with Client(cluster) as client, get_task_stream(client=client) as tasks:
        results = in_time(
            lambda: grid.run_grid(
                GRID, subset, store, scheduler=cluster.scheduler_address, threads=1, progress=False
            )  # fmt: skip
        )
    sent = [t for t in tasks.data if t["key"].startswith("train-")]
    assert len(sent) == 2
    assert results[0].from_store and not results[1].from_store
    assert all(same_bits(a, b) for a, b in zip(results, sequential, strict=True))
    assert all(r.from_store for r in grid.run_grid(GRID, subset, store, progress=False))


class KillFirstTraining(WorkerPlugin):
    """Kill the worker process that starts the first training task (once, for all workers)."""

    name = "kill-first-training"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish == "executing" and str(key).startswith("train-"):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, str(key).encode())
            os.close(fd)
            os._exit(1)  # as if the machine went away mid-run


def test_a_killed_workers_task_is_run_again(subset, store, cluster, sequential, tmp_path):
    marker = tmp_path / "killed"
    with Client(cluster) as client:
        client.register_plugin(KillFirstTraining(str(marker)))
        try:
            results = in_time(
                lambda: grid.run_grid(
                    GRID,
                    subset,
                    store,
                    scheduler=cluster.scheduler_address,
                    threads=1,
                    progress=False,
                )  # fmt: skip
            )
        finally:
            client.unregister_worker_plugin(KillFirstTraining.name)
    assert marker.read_text().startswith("train-"), "no worker was killed"
    assert all(same_bits(a, b) for a, b in zip(results, sequential, strict=True))


def test_a_worker_with_other_code_is_refused(subset):
    with pytest.raises(FmnistEduError, match="install the caller's checkout"):
        grid._train_task(TINY, subset, 1, "another-code")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, "choose one of the two"),
        ({"workers": 0}, "workers=0: must be between 1"),
        ({"threads": "2"}, "threads='2': must be a whole number"),
    ],
)
def test_bad_options_are_explained(subset, store, options, message):
    with pytest.raises(ConfigError, match=message):
        grid.run_grid(GRID, subset, store, **options)


def test_an_unreachable_scheduler_is_one_clear_error(subset, store, monkeypatch):
    monkeypatch.setattr(grid, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.setenv(grid.SCHEDULER_ENV, "tcp://127.0.0.1:9")  # nothing listens there
    with pytest.raises(FmnistEduError, match="cannot reach the Dask scheduler"):
        grid.run_grid(GRID[:1], subset, store)


@pytest.fixture
def impostor():
    """Start a TCP service on 127.0.0.1 that is not a Dask scheduler; yield its starter."""
    servers = []

    def start(kind: str) -> str:
        if kind == "http":  # a web server: answers 400 to what it cannot parse

            class Handler(http.server.BaseHTTPRequestHandler):
                def log_message(self, *args):
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        else:  # "silent": accepts connections and never says a word (for 20 s at most)

            class Silent(socketserver.BaseRequestHandler):
                def handle(self):
                    self.request.settimeout(20)
                    with contextlib.suppress(OSError):
                        while self.request.recv(1 << 16):
                            pass

            server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Silent)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"tcp://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["http", "silent"])
def test_a_service_that_is_not_a_scheduler_is_one_line_in_time(
    subset, store, impostor, kind, monkeypatch
):
    monkeypatch.setattr(grid, "CONNECT_TIMEOUT_S", 1)
    address = impostor(kind)
    box = {}

    def call():
        try:
            grid.run_grid(GRID[:1], subset, store, scheduler=address, progress=False)
        except Exception as exc:
            box["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(20)  # a Dask client left to itself waits for ever
    assert not thread.is_alive(), "no answer within 20 s"
    error = box.get("error")
    assert isinstance(error, FmnistEduError), repr(error)
    assert str(error).startswith(f"cannot reach the Dask scheduler at '{address}' (no Dask ")
    assert "\n" not in str(error)


def test_a_real_scheduler_passes_the_probe(cluster):
    grid.probe(cluster.scheduler_address, timeout=10)


def test_local_workers_are_one_per_core_on_a_machine_without_a_gpu(monkeypatch):
    monkeypatch.delenv(grid.SCHEDULER_ENV, raising=False)
    monkeypatch.setattr(grid.os, "cpu_count", lambda: 4)
    assert grid.local_workers(torch.device("cpu")) == 4
    assert grid.local_workers(torch.device("cuda")) is None  # a GPU trains here
    monkeypatch.setenv(grid.SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    assert grid.local_workers(torch.device("cpu")) is None  # the scheduler's workers train
    monkeypatch.delenv(grid.SCHEDULER_ENV)
    monkeypatch.setattr(grid.os, "cpu_count", lambda: 1)
    assert grid.local_workers(torch.device("cpu")) is None  # one core: nothing to share
