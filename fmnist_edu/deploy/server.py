"""A real local endpoint: the SageMaker container contract over HTTP, served by uvicorn.

``GET /ping`` answers 200 (the model is loaded before the socket opens) and
``POST /invocations`` runs the archive's own ``input_fn`` -> ``predict_fn`` ->
``output_fn`` (its ``code/inference.py``), so what runs here is what SageMaker would run.
Running an archive's code gives it this process's rights: unless ``trust_code``, an
archive whose handler is not byte for byte this package's own
(:mod:`fmnist_edu.deploy.inference`) is refused before any of its code runs.

A refused request gets the handler's 4xx status and a JSON ``{"error": ...}``; the server
goes on serving after every error. The body limit is enforced while the body arrives,
before any parsing; the rest of a body over it is read and dropped (at most
:data:`~fmnist_edu.deploy.connections.LINGER_BYTES`, for
:data:`~fmnist_edu.deploy.connections.LINGER_SECONDS`) before the connection closes, so that a
client still sending it reads the 413 instead of a reset connection ("lingering close",
as nginx does). A request that has not fully arrived
:data:`~fmnist_edu.deploy.connections.REQUEST_TIMEOUT` seconds after
its first byte (or a new connection that sends nothing for that long) gets a 408 and its
connection is closed: slow or stalled clients cannot hold connections open for ever.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import tempfile
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fmnist_edu.deploy import archive as archives
from fmnist_edu.deploy import connections
from fmnist_edu.errors import FmnistEduError

BACKENDS = ("torch", "onnx")
LINGER_BYTES, LINGER_SECONDS = connections.LINGER_BYTES, connections.LINGER_SECONDS
REQUEST_TIMEOUT = connections.REQUEST_TIMEOUT
log = logging.getLogger("fmnist_edu.deploy.server")


class ServeError(FmnistEduError):
    """The endpoint cannot start: a bad address, a busy port, a backend it cannot load."""


def _error(status: int, message: str, close: bool = False) -> JSONResponse:
    headers = {"Connection": "close"} if close else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(
    handler: types.ModuleType,
    model: Any,
    linger_bytes: int = LINGER_BYTES,
    linger_seconds: float = LINGER_SECONDS,
) -> Starlette:
    """The ASGI application serving ``model`` through the ``handler`` module's functions."""
    limit = int(handler.MAX_BODY_BYTES)

    async def ping(request: Request) -> Response:
        return JSONResponse({"status": "ready"})

    async def invocations(request: Request) -> Response:
        declared = request.headers.get("content-length")
        chunks = request.stream()
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await connections.drain(request, chunks, linger_bytes, linger_seconds)
            message = f"the body has {int(declared):,} bytes; the limit is {limit:,}"
            return _error(413, message, close=True)
        body = bytearray()
        try:
            async for chunk in chunks:  # a chunked body is counted as it arrives
                body += chunk
                if len(body) > limit:
                    await connections.drain(
                        request, chunks, linger_bytes, linger_seconds, started=True
                    )
                    return _error(413, f"the body is over the limit of {limit:,} bytes", True)
        except ClientDisconnect:  # gone, or cut off by the request deadline: nobody reads this
            return _error(400, "the client disconnected", close=True)
        try:  # the work is short (a millisecond an image): run it on the event loop
            data = handler.input_fn(bytes(body), request.headers.get("content-type"))
            result = handler.output_fn(
                handler.predict_fn(data, model), request.headers.get("accept")
            )
        except Exception as exc:  # the archive's code decides the status of what it refuses
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 400 <= status < 500:
                return _error(status, str(getattr(exc, "message", exc)))
            log.exception("the handler failed")
            return _error(500, f"the handler failed: {type(exc).__name__}")
        content, media_type = result if isinstance(result, tuple) else (result, "application/json")
        return Response(content, media_type=media_type)

    routes = [Route("/ping", ping, methods=["GET"]),
              Route("/invocations", invocations, methods=["POST"])]  # fmt: skip
    return Starlette(routes=routes)


def bind(host: str = "127.0.0.1", port: int = 8080) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one the system picks).

    Its connections turn Nagle's algorithm off (``TCP_NODELAY``): uvicorn writes an
    answer's headers and body separately, and with the algorithm on, the system may
    hold the body back until the client has acknowledged the headers.
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except (OSError, OverflowError) as exc:
        raise ServeError(f"cannot listen on {host}:{port} ({exc})") from None
    return sock


def url_of(sock: socket.socket) -> str:
    """The ``http://host:port`` address a listening socket answers on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn's server, calling ``on_started`` once it listens and handles signals."""

    on_started: Callable[[], None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.on_started is not None:
            self.on_started()


def _server(app: Starlette, request_timeout: float = REQUEST_TIMEOUT) -> _Server:
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=5, server_header=False, http=connections.DeadlineProtocol,
    )  # fmt: skip
    config.request_timeout = request_timeout  # read by DeadlineProtocol
    return _Server(config)


@contextlib.contextmanager
def loaded(
    archive: str | Path, backend: str = "torch", trust_code: bool = False
) -> Iterator[tuple[types.ModuleType, Any]]:
    """Unpack ``archive`` into a temporary folder; yield its handler module and its model.

    The handler is the archive's ``code/inference.py``; unless ``trust_code``, it must be
    this package's own (:func:`fmnist_edu.deploy.archive.load_handler`). Whatever is wrong
    with the archive raises one line that names the archive and the member at fault.
    """
    if backend not in BACKENDS:
        raise ServeError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
    with tempfile.TemporaryDirectory(prefix="fmnist-edu-serve-") as tmp:
        model_dir = archives.extract(archive, tmp)
        try:
            handler = archives.load_handler(model_dir, trust_code=trust_code)
        except archives.ArchiveError as exc:
            raise ServeError(f"{archive}: {exc}") from None
        try:
            model = handler.load_model(model_dir, backend)
        except Exception as exc:  # a damaged member; the handler's message names it
            lines = str(exc).strip().replace(f"{model_dir}/", "").splitlines()
            what = lines[0] if lines else type(exc).__name__
            if not isinstance(exc, ValueError | OSError):  # not the handler's own refusal
                what = f"{type(exc).__name__}: {what}"
            raise ServeError(f"{archive}: cannot load the {backend} model: {what}") from None
        yield handler, model


def serve(
    archive: str | Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    backend: str = "torch",
    threads: int = 1,
    stop_after: float | None = None,
    announce: Callable[[str], None] = print,
    trust_code: bool = False,
) -> None:
    """Serve ``archive`` on ``host:port`` until Ctrl-C (SIGINT), SIGTERM or ``stop_after`` s.

    It runs the archive's own ``code/inference.py``, as SageMaker does; unless
    ``trust_code``, only if that is this package's handler, byte for byte.

    ``announce`` receives one line with the address once the socket listens (port 0
    picks a free port: read it there). ``threads`` is torch's (and ONNX Runtime's)
    thread count: one is fastest for one image at a time. After a signal, the server
    finishes the requests under way, removes its unpacked archive and raises
    ``KeyboardInterrupt`` (for SIGTERM too) for the caller to end quietly.
    """
    if threads < 1:
        raise ServeError(f"threads={threads}: must be at least 1")
    if stop_after is not None and not stop_after > 0:
        raise ServeError(f"stop_after={stop_after}: must be a positive number of seconds")
    torch.set_num_threads(threads)
    if threading.current_thread() is threading.main_thread():
        # uvicorn shuts down gracefully, puts back this handler and raises the signal
        # again: SIGTERM then unwinds like Ctrl-C, so the temporary folder is removed.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    with loaded(archive, backend, trust_code) as (handler, model):
        sock = bind(host, port)
        server = _server(create_app(handler, model))
        timer = None
        if stop_after is not None:
            timer = threading.Timer(stop_after, lambda: setattr(server, "should_exit", True))
            timer.daemon = True
            timer.start()
        line = f"serving {Path(archive).name} ({backend}) on {url_of(sock)}"
        server.on_started = lambda: announce(line)  # Ctrl-C is a graceful stop from then on
        try:
            server.run(sockets=[sock])
        finally:
            if timer is not None:
                timer.cancel()
            sock.close()


@contextlib.contextmanager
def in_thread(
    archive: str | Path,
    backend: str = "torch",
    host: str = "127.0.0.1",
    request_timeout: float = REQUEST_TIMEOUT,
    linger_bytes: int = LINGER_BYTES,
) -> Iterator[str]:
    """Serve ``archive`` from a thread of this process on a free port; yield its URL.

    For tests and notebooks: the server stops when the block ends, whatever happens in it.
    ``request_timeout``: seconds a request may take to arrive; ``linger_bytes``: how much
    of a refused body to read and drop before closing (see :mod:`.connections`).
    """
    with loaded(archive, backend) as (handler, model):
        sock = bind(host, 0)
        server = _server(create_app(handler, model, linger_bytes), request_timeout)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            yield url_of(sock)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
