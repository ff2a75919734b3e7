"""Connection handling of the local endpoint: bounded waits for slow clients, and
lingering close after refusing a body that is too large.

:class:`DeadlineProtocol` is uvicorn's HTTP/1.1 protocol with a deadline on each
request's arrival (uvicorn itself times out idle keep-alive connections only), and
:func:`drain` reads and drops the rest of a refused body so that the client reads the
answer instead of a reset connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn
from starlette.requests import ClientDisconnect, Request
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_BYTES = 64 * 2**20
"""Most bytes of a body over the limit read (and dropped) before closing, after a 413."""
LINGER_SECONDS = 10.0
"""Longest time spent reading the rest of a body over the limit, after a 413."""
REQUEST_TIMEOUT = 20.0
"""Seconds a request (headers and body) may take to arrive, from its first byte."""


async def drain(
    request: Request, chunks: Any, most_bytes: int, seconds: float, started: bool = False
) -> None:
    """Read and drop the rest of a refused body, at most ``most_bytes`` for ``seconds``.

    ``chunks`` is the body's stream (``request.stream()``), ``started`` whether it has
    been read from already.

    Closing a socket with unread data makes the system reset the connection, and a client
    still sending (``urllib``, ``requests``) then sees the reset, not the answer. A client
    that sent ``Expect: 100-continue`` and has not been read from yet waits for leave to
    send the body: nothing is read from it (reading would give it that leave).
    """
    if not started and request.headers.get("expect", "").lower() == "100-continue":
        return
    read = 0
    with contextlib.suppress(TimeoutError, ClientDisconnect):
        async with asyncio.timeout(seconds):
            async for chunk in chunks:
                read += len(chunk)
                if read > most_bytes:
                    return


_LATE = b'{"error":"the request did not arrive in time"}'
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_LATE), _LATE)
)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol with a deadline on each request's arrival.

    uvicorn times out idle keep-alive connections only: a client that sends half a
    request, or nothing after connecting, holds its connection (a file descriptor) for
    ever. Here a timer starts when a connection opens and again at each request's first
    byte, and stops once the request's body is complete; if it fires first, the client
    gets a 408 and the connection is closed. The deadline is ``config.request_timeout``.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.request_timeout = float(getattr(config, "request_timeout", REQUEST_TIMEOUT))
        self._deadline: asyncio.TimerHandle | None = None
        self._in_headers = False

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_headers or self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMED_OUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._arm()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()
