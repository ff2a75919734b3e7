"""Run ``fmnist-edu serve`` in a child process and talk to it, always stopping it after.

:func:`endpoint` is how the book's live demo, the benchmark and the end-to-end tests
start a real server: ``python -m fmnist_edu serve ARCHIVE --port 0`` on the loopback
address, with a time limit of its own (``--stop-after``) in case its parent dies. The
child's output goes to a temporary file (never a pipe that could fill up and stall it);
its first line gives the address.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from fmnist_edu.errors import FmnistEduError

_ADDRESS = re.compile(r" on (http://[\w.:\[\]-]+)")


class EndpointError(FmnistEduError):
    """The child server did not start, or did not answer ``/ping``, in time."""


@dataclass
class LocalEndpoint:
    """A running child server: its address, its process and an HTTP client for it."""

    url: str
    process: subprocess.Popen
    client: httpx.Client

    def invoke(
        self, body: bytes, content_type: str, accept: str | None = "application/json"
    ) -> httpx.Response:
        """``POST /invocations`` with ``body``; returns the response, whatever its status."""
        headers = {"Content-Type": content_type}
        if accept is not None:
            headers["Accept"] = accept
        return self.client.post(f"{self.url}/invocations", content=body, headers=headers)

    def ping(self) -> httpx.Response:
        """``GET /ping``."""
        return self.client.get(f"{self.url}/ping")


def urllib_status(url: str, body: bytes, content_type: str, timeout: float = 30.0) -> int:
    """``POST /invocations`` with the standard library's ``urllib``; return the status.

    ``urllib`` sends the whole body before it reads any answer: a server that answers
    early and closes with the body unread makes it see a reset connection instead, which
    raises :class:`EndpointError` here.
    """
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError) as exc:
        raise EndpointError(f"{url}: no answer to a {len(body):,}-byte body ({exc})") from None


def _stop(process: subprocess.Popen, grace: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: a graceful shutdown
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def endpoint(
    archive: str | Path,
    backend: str = "torch",
    start_timeout: float = 60.0,
    stop_after: float = 600.0,
    request_timeout: float = 10.0,
    trust_code: bool = False,
) -> Iterator[LocalEndpoint]:
    """Start a server for ``archive`` on a free loopback port; yield it; stop it after.

    The server is stopped (SIGINT, then SIGKILL after 10 s) when the block ends, however
    it ends, and stops itself after ``stop_after`` seconds whatever happens here.
    ``trust_code`` passes ``--trust-code``: run the archive's handler even if it is not
    this package's own.
    """
    command = [sys.executable, "-m", "fmnist_edu", "serve", str(archive), "--host", "127.0.0.1",
               "--port", "0", "--backend", backend, "--stop-after", str(stop_after)]  # fmt: skip
    if trust_code:
        command.append("--trust-code")
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        client = httpx.Client(timeout=request_timeout)
        try:
            url = _wait_for_address(process, log, start_timeout)
            server = LocalEndpoint(url, process, client)
            if server.ping().status_code != 200:
                raise EndpointError(f"{url}/ping did not answer 200")
            yield server
        finally:
            client.close()
            _stop(process, grace=10)


def _wait_for_address(process: subprocess.Popen, log, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log.seek(0)
        output = log.read()
        found = _ADDRESS.search(output)
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise EndpointError(f"the server exited ({process.returncode}): {output.strip()}")
        time.sleep(0.05)
    raise EndpointError(f"the server did not start within {timeout:.0f} s")
