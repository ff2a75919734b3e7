"""Downloads end: a trickling server meets the deadline, an oversized response the cap."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from fmnist_edu.download import LOCK_NAME, download_release
from fmnist_edu.errors import DownloadError

NAME = "train-labels-idx1-ubyte.gz"
SUMS = {NAME: "0" * 32}  # one file is enough; the sum is never reached


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = ""
    finished: threading.Event

    def do_GET(self):  # noqa: N802 (http.server's naming)
        try:
            if self.mode == "silent":  # accepts, never answers (for 6 s at most)
                time.sleep(6)
                self.finished.set()
                return
            if self.mode == "slow-headers":  # one header byte every 50 ms, for 6 s
                for byte in b"HTTP/1.0 200 OK\r\nX-Padding: " + b"x" * 100 + b"\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
                self.finished.set()
                return
            self.send_response(200)
            if self.mode == "trickle":  # one byte every 50 ms, for 3 s at most
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            elif self.mode == "announce":  # says 5000 bytes up front
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(b"x" * 5000)
            else:  # "flood": no length given, 5000 bytes, then the connection closes
                self.end_headers()
                self.wfile.write(b"x" * 5000)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(mode: str, finished: threading.Event | None = None) -> str:
        finished = finished or threading.Event()
        handler = type("Handler", (_Handler,), {"mode": mode, "finished": finished})
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name != LOCK_NAME]


def test_a_trickling_server_meets_the_deadline(tmp_path, serve):
    url = serve("trickle")
    with pytest.raises(DownloadError, match=rf"{NAME}: not complete after 1 s"):
        download_release(tmp_path, mirrors=[url], md5=SUMS, timeout=5, deadline=1)
    assert leftovers(tmp_path) == []


def test_an_announced_size_over_the_cap_is_refused(tmp_path, serve):
    url = serve("announce")
    with pytest.raises(DownloadError, match=r"announces 5,000 bytes, more than the 1,000-byte"):
        download_release(tmp_path, mirrors=[url], md5=SUMS, max_bytes=1000)
    assert leftovers(tmp_path) == []


def test_more_bytes_than_the_cap_are_refused(tmp_path, serve):
    url = serve("flood")
    with pytest.raises(DownloadError, match=r"more than 1,000 bytes received"):
        download_release(tmp_path, mirrors=[url], md5=SUMS, max_bytes=1000)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", ["slow-headers", "silent"])
def test_the_deadline_covers_the_response_headers(tmp_path, serve, mode):
    """The server would take 6 s to send its headers; the download gives up after 1 s."""
    finished = threading.Event()
    url = serve(mode, finished)
    with pytest.raises(DownloadError, match=rf"{NAME}: not complete after 1 s \(0 bytes"):
        download_release(tmp_path, mirrors=[url], md5=SUMS, timeout=30, deadline=1)
    assert not finished.is_set()  # it gave up while the headers were still coming
    assert leftovers(tmp_path) == []
