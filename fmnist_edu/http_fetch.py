"""Stream one HTTP(S) response to a writer, within one deadline and a size cap.

urllib's ``timeout`` bounds each socket operation, not the download: a server that
trickles a byte every few seconds, in its headers or in its body, would keep a download
alive for ever. :func:`stream` therefore runs the whole exchange (connecting, the TLS
handshake, the response headers, every redirect and the body) under one watchdog: when
the deadline passes, it shuts down the sockets, which ends any read in progress. It also
stops as soon as a response announces or delivers more bytes than ``max_bytes``.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from fmnist_edu.errors import DownloadError

CHUNK = 1 << 16

#: Total seconds allowed for one file by default (the largest official file is about
#: 26 MB); :func:`fmnist_edu.settings.download_deadline` resolves the setting.
DEADLINE = 600.0

#: Largest response accepted, comfortably above the largest official file (about 26 MB).
MAX_BYTES = 64 << 20


class _Watchdog:
    """Shut down every socket handed to :meth:`watch` once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._stopped = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> bool:
        """Stop watching; return whether the deadline had passed by then."""
        self._timer.cancel()
        with self._lock:
            self._stopped = True
            return self.expired

    def _expire(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def watch(self, sock: socket.socket) -> socket.socket:
        """Register ``sock``; it is shut down at once when the deadline has passed."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)
        return sock

    def connection(self, base: type[http.client.HTTPConnection]) -> type:
        """A subclass of ``base`` whose sockets, raw and TLS, this watchdog watches."""
        watchdog = self

        class Watched(base):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                create = self._create_connection
                self._create_connection = lambda *a, **k: watchdog.watch(create(*a, **k))
                super().connect()  # the raw socket is watched during the TLS handshake
                watchdog.watch(self.sock)

        return Watched


def _shut(sock: socket.socket) -> None:
    """Shut ``sock`` down for both directions, which wakes a thread blocked reading it."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain call, also for TLS
    except OSError:
        pass  # already closed, or detached into its TLS socket (watched too)


def _opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> http.client.HTTPResponse:
            return self.do_open(watchdog.connection(http.client.HTTPConnection), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> http.client.HTTPResponse:
            return self.do_open(watchdog.connection(http.client.HTTPSConnection), req)

    return urllib.request.build_opener(HTTP, HTTPS)


def stream(
    url: str,
    write: Callable[[bytes], object],
    *,
    timeout: float = 30.0,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> int:
    """Pass the body at ``url`` to ``write`` chunk by chunk; return the number of bytes.

    ``timeout`` bounds each network operation and ``deadline`` the whole exchange, from
    connecting to the last byte, so the call ends within about ``deadline`` seconds
    (name resolution aside, which the system bounds). Raises :class:`DownloadError`
    when the deadline passes, when the response is larger than ``max_bytes``, or when
    the connection closes before the announced ``Content-Length``. Network failures
    propagate as urllib and http.client raise them (``URLError``, ``HTTPException``,
    ``OSError``); whatever ``write`` raises propagates unchanged.
    """
    received = 0
    start = time.monotonic()
    with _Watchdog(deadline) as watchdog:
        try:
            with _opener(watchdog).open(url, timeout=min(timeout, deadline)) as response:
                announced = _content_length(response)
                if announced is not None and announced > max_bytes:
                    raise DownloadError(
                        f"{url}: the server announces {announced:,} bytes, more than the "
                        f"{max_bytes:,}-byte limit for one file; nothing was kept"
                    )
                # read1 returns whatever has arrived, so a trickling server cannot hold
                # one read open until a whole chunk has come in.
                while chunk := response.read1(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadError(
                            f"{url}: more than {max_bytes:,} bytes received, more than any "
                            "file of the release; the download was stopped and nothing was kept"
                        )
                    write(chunk)
            late = watchdog.stop()
        except Exception:
            # Whatever the shut-down sockets made a read raise; or the sockets' own
            # timeout (never above the deadline) fired first.
            late = watchdog.stop() or time.monotonic() - start >= deadline
            if not late:
                raise
        if late:  # a read of a shut-down socket may also return as if the server closed
            raise DownloadError(
                f"{url}: not complete after {deadline:g} s ({received:,} bytes received); "
                "the download was stopped and nothing was kept"
            )
    if announced is not None and received != announced:
        raise DownloadError(
            f"{url}: the connection closed after {received:,} of {announced:,} bytes"
        )
    return received


def _content_length(response: http.client.HTTPResponse) -> int | None:
    text = (response.headers.get("Content-Length") or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None
