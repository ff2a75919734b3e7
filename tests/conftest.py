"""Shared fixtures: the real subset, small synthetic datasets, and an isolated store."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import os
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fmnist_edu import data
from fmnist_edu.store import ResultStore

ROOT = Path(__file__).resolve().parent.parent


def book_extension(name: str):
    """Import one of the book's Sphinx extensions (book/_ext/NAME.py) as a module."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def subset_path() -> Path:
    """The real subset: FMNIST_EDU_DATA when set (as in CI), else ../shared beside the repo."""
    path = Path(os.environ.get("FMNIST_EDU_DATA") or ROOT.parent / "shared/fashion-mnist-subset")
    if not data.has_data(path):
        pytest.fail(f"the Fashion-MNIST subset is not at {path}; set FMNIST_EDU_DATA")
    return path


@pytest.fixture(scope="session")
def subset_dir() -> Path:
    return subset_path()


@pytest.fixture(scope="session")
def subset(subset_dir: Path) -> data.FashionMNIST:
    return data.load(subset_dir)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "store")


def idx_images(images: np.ndarray, magic: int = 2051) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">4I", magic, n, rows, cols) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    return struct.pack(">2I", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random images with labels cycling through the ten classes."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), np.arange(n) % 10


def write_idx_folder(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True) -> Path:
    """Write a complete synthetic IDX dataset (gzip-compressed or raw) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = synthetic(n, seed=n)
        img_name, lbl_name = data.IDX_FILES[split]
        for name, blob in ((img_name, idx_images(images)), (lbl_name, idx_labels(labels))):
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (folder / name).write_bytes(blob)
    return folder


def csv_text(images: np.ndarray, labels: np.ndarray) -> str:
    header = ",".join(["label"] + [f"pixel{i}" for i in range(1, 785)])
    rows = [
        ",".join(map(str, [int(lb), *img.reshape(-1).tolist()]))
        for img, lb in zip(images, labels, strict=True)
    ]
    return "\n".join([header, *rows]) + "\n"


def write_csv_folder(folder: Path, n_train: int = 30, n_test: int = 10) -> Path:
    """Write a complete synthetic Kaggle-format CSV pair into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = synthetic(n, seed=n)
        (folder / data.CSV_FILES[split]).write_text(csv_text(images, labels))
    return folder


@contextlib.contextmanager
def serve_files(files: dict[str, bytes], prefix: str = "/") -> Iterator[tuple[str, list[str]]]:
    """Serve ``files`` by name on 127.0.0.1; yield the folder's URL and the names asked for."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            name = self.path.rsplit("/", 1)[-1]
            requests.append(name)
            if name not in files:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(files[name])))
            self.end_headers()
            self.wfile.write(files[name])

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{prefix}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
