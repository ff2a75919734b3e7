"""Latency and throughput of an endpoint, measured over loopback with bounded effort.

:func:`measure` keeps ``concurrency`` HTTP/1.1 connections busy, each sending the same
request again as soon as its answer arrives, until ``requests`` answers came back or
``max_seconds`` passed, whichever is first. It reports every request's latency and the
answers per second. The client speaks HTTP through asyncio streams with the request
bytes built once: on a 2-core machine it shares the CPU with the server, so a client
that spends little per request leaves more to what is measured.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fmnist_edu.errors import FmnistEduError

WARMUP = 20
"""Requests :func:`measure` sends first, uncounted: the first answers pay one-off costs."""


class LoadTestError(FmnistEduError):
    """The endpoint could not be reached, or answered in a way the client cannot read."""


@dataclass(frozen=True)
class LoadResult:
    """The outcome of one :func:`measure` run."""

    concurrency: int
    latencies_ms: tuple[float, ...]
    """Time from sending each request to reading its whole answer, in milliseconds."""
    seconds: float
    """Wall time of the run (warm-up excluded)."""
    failures: int
    """Answers whose status was not 200."""

    @property
    def requests(self) -> int:
        """Requests answered (successful or not)."""
        return len(self.latencies_ms)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies in ms (linear interpolation)."""
        if not self.latencies_ms:
            raise LoadTestError("no request was answered")
        return float(np.percentile(self.latencies_ms, q))

    @property
    def p50(self) -> float:
        """Median latency in ms."""
        return self.percentile(50)

    @property
    def p99(self) -> float:
        """99th-percentile latency in ms."""
        return self.percentile(99)

    @property
    def per_second(self) -> float:
        """Answers per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def _request(url: str, path: str, body: bytes, content_type: str) -> tuple[str, int, bytes]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise LoadTestError(f"{url!r}: give an address like http://127.0.0.1:8080")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: {content_type}\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return parts.hostname, parts.port, head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length is None:
        raise LoadTestError("the server answered without a Content-Length")
    await reader.readexactly(length)
    return status


async def _worker(host, port, payload, state, deadline, latencies, failures) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while state["left"] > 0 and time.perf_counter() < deadline:
            state["left"] -= 1
            start = time.perf_counter()
            writer.write(payload)
            status = await _read_answer(reader)
            latencies.append((time.perf_counter() - start) * 1000)
            failures.append(status != 200)
    finally:
        writer.close()


async def _run(host, port, payload, concurrency, requests, max_seconds):
    latencies: list[float] = []
    failures: list[bool] = []
    state = {"left": requests}
    start = time.perf_counter()
    deadline = start + max_seconds
    workers = [
        _worker(host, port, payload, state, deadline, latencies, failures)
        for _ in range(concurrency)
    ]
    await asyncio.wait_for(asyncio.gather(*workers), timeout=max_seconds + 10)
    return latencies, failures, time.perf_counter() - start


def _in_own_loop(coroutine: Any) -> Any:
    """Run ``coroutine`` in a new event loop on a worker thread (a notebook runs its own)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def measure(
    url: str,
    body: bytes,
    content_type: str = "application/json",
    concurrency: int = 1,
    requests: int = 200,
    max_seconds: float = 10.0,
    warmup: int = WARMUP,
    path: str = "/invocations",
) -> LoadResult:
    """Send ``requests`` copies of one request with ``concurrency`` connections at a time.

    Stops early after ``max_seconds``. ``warmup`` requests go first and are not counted.
    With one connection, answers per second is only the reciprocal of the mean latency;
    throughput, how many answers the server can give, needs several connections at once.
    """
    if not 1 <= concurrency <= 256 or not 1 <= requests <= 100_000 or not max_seconds > 0:
        raise LoadTestError("choose 1-256 connections, 1-100,000 requests and a time > 0")
    host, port, payload = _request(url, path, body, content_type)
    try:
        if warmup:
            _in_own_loop(_run(host, port, payload, min(concurrency, warmup), warmup, max_seconds))
        latencies, failures, seconds = _in_own_loop(
            _run(host, port, payload, concurrency, requests, max_seconds)
        )
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
        raise LoadTestError(f"{url}: the load test failed ({type(exc).__name__}: {exc})") from None
    return LoadResult(concurrency, tuple(latencies), seconds, sum(failures))


def stage_times(
    handler: Any,
    model: Any,
    body: bytes,
    content_type: str,
    repeats: int = 100,
    threads: int = 1,
) -> dict[str, float]:
    """Median time in ms of each handler stage for one request, run in this process.

    ``handler`` is an archive's ``inference`` module and ``model`` what its ``load_model``
    returned; torch runs on ``threads`` threads meanwhile (the server's default is one),
    and on as many as before afterwards. Keys: ``"input_fn"``, ``"predict_fn"``,
    ``"output_fn"`` and ``"handler"``, the three together for the same request. Medians
    do not add up (each stage's median may come from another request): set the median of
    ``"handler"``, not the sum, against the median latency over HTTP. One call, untimed,
    goes first.
    """
    if repeats < 1:
        raise LoadTestError(f"repeats={repeats}: must be at least 1")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _stage_times(handler, model, body, content_type, repeats)
    finally:
        torch.set_num_threads(before)


def _stage_times(handler, model, body, content_type, repeats) -> dict[str, float]:
    times: dict[str, list[float]] = {"input_fn": [], "predict_fn": [], "output_fn": [],
                                     "handler": []}  # fmt: skip
    handler.output_fn(handler.predict_fn(handler.input_fn(body, content_type), model), None)
    for _ in range(repeats):
        t0 = time.perf_counter()
        data = handler.input_fn(body, content_type)
        t1 = time.perf_counter()
        prediction = handler.predict_fn(data, model)
        t2 = time.perf_counter()
        handler.output_fn(prediction, "application/json")
        t3 = time.perf_counter()
        for key, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
            times[key].append(seconds * 1000)
    return {key: float(np.median(values)) for key, values in times.items()}
