"""Stream one HTTP(S) response to a writer, within a time budget and a size cap.

urllib's ``timeout`` bounds each socket operation, not the download: a server that
trickles a byte every few seconds would keep a download alive for ever. :func:`stream`
therefore also enforces an overall deadline, checked after every read, and stops as soon
as a response announces or delivers more bytes than ``max_bytes``.
"""

from __future__ import annotations

import http.client
import time
import urllib.request
from collections.abc import Callable

from fmnist_edu.errors import DownloadError

CHUNK = 1 << 16

#: Total seconds allowed for one file (the largest official file is about 26 MB).
DEADLINE = 600.0

#: Largest response accepted, comfortably above the largest official file (about 26 MB).
MAX_BYTES = 64 << 20


def stream(
    url: str,
    write: Callable[[bytes], object],
    *,
    timeout: float = 30.0,
    deadline: float = DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> int:
    """Pass the body at ``url`` to ``write`` chunk by chunk; return the number of bytes.

    ``timeout`` bounds each network operation and ``deadline`` the whole transfer, so the
    transfer ends within about ``deadline + timeout`` seconds. Raises :class:`DownloadError`
    when the deadline passes, when the response is larger than ``max_bytes``, or when the
    connection closes before the announced ``Content-Length``. Network failures propagate
    as urllib and http.client raise them (``URLError``, ``HTTPException``, ``OSError``);
    whatever ``write`` raises propagates unchanged.
    """
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        announced = _content_length(response)
        if announced is not None and announced > max_bytes:
            raise DownloadError(
                f"{url}: the server announces {announced:,} bytes, more than the "
                f"{max_bytes:,}-byte limit for one file; nothing was kept"
            )
        received = 0
        # read1 returns whatever has arrived, so a trickling server cannot hold one read
        # open until a whole chunk has come in, and the deadline is checked in between.
        while chunk := response.read1(CHUNK):
            received += len(chunk)
            if received > max_bytes:
                raise DownloadError(
                    f"{url}: more than {max_bytes:,} bytes received, more than any file of "
                    "the release; the download was stopped and nothing was kept"
                )
            write(chunk)
            if time.monotonic() - start > deadline:
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
