"""The downloader against a local HTTP server on 127.0.0.1 serving the real subset files."""

from __future__ import annotations

import http.server
import os
import threading
import time
from pathlib import Path

import pytest

from fmnist_edu import data, download
from fmnist_edu.download import LOCK_NAME, MD5, download_release, md5_of
from fmnist_edu.errors import DownloadError


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    cut: set[str] = set()  # files whose connection is dropped half-way
    requests: list[str] = []
    gate: threading.Event | None = None  # when set, every request waits for it to open

    def do_GET(self):  # noqa: N802 (http.server's naming)
        name = self.path.rsplit("/", 1)[-1]
        type(self).requests.append(name)
        if self.gate is not None:
            self.gate.wait(10)
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.cut:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(subset_dir: Path):
    handler = type(
        "Handler", (_Handler,), {"files": {}, "cut": set(), "requests": [], "gate": None}
    )
    handler.files = {name: (subset_dir / name).read_bytes() for name in MD5}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/fashion/", handler
    httpd.shutdown()
    httpd.server_close()


def subset_sums(subset_dir: Path) -> dict[str, str]:
    return {name: md5_of(subset_dir / name) for name in MD5}


def listing(folder: Path) -> list[str]:
    """The names in ``folder``, less the lock file downloads leave behind."""
    return sorted(p.name for p in folder.iterdir() if p.name != LOCK_NAME)


def test_download_with_right_sums(tmp_path, server, subset_dir):
    url, handler = server
    written = download_release(tmp_path / "d", mirrors=[url], md5=subset_sums(subset_dir))
    assert sorted(p.name for p in written) == sorted(MD5)
    dataset = data.load(tmp_path / "d")
    assert (len(dataset.train), len(dataset.test)) == (3615, 1770)
    # A second call finds valid files and fetches nothing.
    handler.requests.clear()
    assert download_release(tmp_path / "d", mirrors=[url], md5=subset_sums(subset_dir)) == []
    assert handler.requests == []


def test_wrong_sums_leave_no_file(tmp_path, server):
    url, _ = server  # the subset's files do not match the official release's sums
    with pytest.raises(DownloadError, match=r"does not match the official"):
        download_release(tmp_path, mirrors=[url])
    assert listing(tmp_path) == []


def test_connection_cut_mid_file_leaves_no_file(tmp_path, server, subset_dir):
    url, handler = server
    handler.cut = {"t10k-images-idx3-ubyte.gz"}
    with pytest.raises(DownloadError, match=r"t10k-images-idx3-ubyte.gz"):
        download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir))
    names = listing(tmp_path)
    assert "t10k-images-idx3-ubyte.gz" not in names
    assert not any(n.endswith((".part", ".download")) for n in names)
    # What did arrive is complete and correct, and a retry finishes the job.
    for name in names:
        assert md5_of(tmp_path / name) == subset_sums(subset_dir)[name]
    handler.cut = set()
    download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir))
    assert data.has_data(tmp_path)


def test_falls_back_to_the_next_mirror(tmp_path, server, subset_dir):
    url, _ = server
    download_release(tmp_path, mirrors=[url + "missing/", url], md5=subset_sums(subset_dir))
    assert data.has_data(tmp_path)


def test_offline_message_says_how_to_use_a_local_copy(tmp_path):
    with pytest.raises(DownloadError, match=r"(?s)could not download.*--data-dir.*FMNIST_EDU_DATA"):
        download_release(tmp_path, mirrors=["http://127.0.0.1:9/"], timeout=2)


def test_load_with_download_fills_an_empty_folder(tmp_path, server, subset_dir, monkeypatch):
    url, _ = server
    monkeypatch.setenv("FMNIST_EDU_MIRROR", url)
    monkeypatch.setattr("fmnist_edu.download.MD5", subset_sums(subset_dir))
    assert len(data.load(tmp_path / "new", download=True).train) == 3615


def test_an_existing_file_with_another_sum_is_never_replaced(tmp_path, server, subset_dir):
    url, _ = server
    mine = tmp_path / "train-labels-idx1-ubyte.gz"
    mine.write_bytes(b"my own file")
    with pytest.raises(DownloadError, match=r"train-labels-idx1-ubyte.gz: exists but does not"):
        download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir))
    assert mine.read_bytes() == b"my own file"
    download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir), overwrite=True)
    assert data.has_data(tmp_path)


def test_load_with_download_completes_a_partial_folder(tmp_path, server, subset_dir, monkeypatch):
    url, handler = server
    monkeypatch.setenv("FMNIST_EDU_MIRROR", url)
    monkeypatch.setattr("fmnist_edu.download.MD5", subset_sums(subset_dir))
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((subset_dir / name).read_bytes())
    assert not data.has_data(tmp_path)
    assert len(data.load(tmp_path, download=True).test) == 1770
    assert sorted(handler.requests) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_two_downloads_into_one_folder_take_turns(tmp_path, server, subset_dir):
    url, handler = server
    handler.gate = threading.Event()
    results, errors = [], []

    def run():
        try:
            results.append(download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir)))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)

    first, second = threading.Thread(target=run), threading.Thread(target=run)
    first.start()
    for _ in range(100):  # until the first download is held at the server
        if handler.requests:
            break
        time.sleep(0.05)
    second.start()
    time.sleep(0.5)  # the second now waits for the lock; without one it would fetch too
    handler.gate.set()
    first.join(30)
    second.join(30)
    assert errors == []
    assert sorted(len(written) for written in results) == [0, 4]
    assert sorted(handler.requests) == sorted(MD5)  # each file fetched once
    assert listing(tmp_path) == sorted(MD5)
    assert all(md5_of(tmp_path / n) == s for n, s in subset_sums(subset_dir).items())


def test_the_sum_is_checked_on_the_file_that_lands(tmp_path, server, subset_dir, monkeypatch):
    url, _ = server
    real_fsync = os.fsync

    def scribbling_fsync(fd):  # something overwrites the file on disk after the bytes came
        os.pwrite(fd, b"\0" * 16, 100)
        real_fsync(fd)

    monkeypatch.setattr(download.os, "fsync", scribbling_fsync)
    with pytest.raises(DownloadError, match=r"does not match the official"):
        download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir))
    assert listing(tmp_path) == []


def test_a_users_own_files_survive_success_and_failure(tmp_path, server, subset_dir):
    url, handler = server
    mine = {
        "train-images-idx3-ubyte.gz.part": b"my notes",
        ".train-images-idx3-ubyte.gz.download": b"also mine",
    }
    for name, blob in mine.items():
        (tmp_path / name).write_bytes(blob)
    handler.cut = {"t10k-images-idx3-ubyte.gz"}
    with pytest.raises(DownloadError, match=r"t10k-images-idx3-ubyte.gz"):
        download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir))
    assert all((tmp_path / name).read_bytes() == blob for name, blob in mine.items())
    handler.cut = set()
    download_release(tmp_path, mirrors=[url], md5=subset_sums(subset_dir))
    assert all((tmp_path / name).read_bytes() == blob for name, blob in mine.items())
    assert listing(tmp_path) == sorted([*MD5, *mine])  # and no temporary file of ours


def test_a_folder_that_cannot_be_created_is_not_called_offline(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError) as info:
        download_release(blocker / "data", mirrors=["http://127.0.0.1:9/"])
    message = str(info.value)
    assert f"{blocker / 'data'}: the data folder cannot be created" in message
    assert "--data-dir" in message and "offline" not in message


def test_a_folder_that_cannot_be_written_is_not_called_offline(tmp_path, server, monkeypatch):
    url, handler = server

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(download.tempfile, "mkstemp", refuse)
    with pytest.raises(DownloadError) as info:
        download_release(tmp_path, mirrors=[url, url])
    message = str(info.value)
    assert f"{tmp_path}: the data folder cannot be written to (Permission denied)" in message
    assert "FMNIST_EDU_DATA" in message and "offline" not in message
    assert handler.requests == []  # no mirror was tried: none could help


def test_a_read_only_folder(tmp_path, server, subset_dir):
    url, _ = server
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root with CAP_DAC_OVERRIDE writes here anyway
            pytest.skip("this user can write to a read-only folder")
        with pytest.raises(DownloadError, match=r"ro: the data folder cannot be written to"):
            download_release(folder, mirrors=[url], md5=subset_sums(subset_dir))
        folder.chmod(0o755)
        download_release(folder, mirrors=[url], md5=subset_sums(subset_dir))
        folder.chmod(0o555)  # a complete copy in a read-only folder needs no download
        assert download_release(folder, mirrors=[url], md5=subset_sums(subset_dir)) == []
    finally:
        folder.chmod(0o755)
