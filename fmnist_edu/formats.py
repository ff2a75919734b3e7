"""Readers for the two on-disk formats of Fashion-MNIST, with strict validation.

- IDX (the official release): a big-endian header (magic number, counts, dimensions)
  followed by raw ``uint8`` bytes, optionally gzip-compressed.
- CSV (the Kaggle copy): a header ``label,pixel1,...,pixel784`` and one row per image.

Every reader checks what it reads and raises :class:`~fmnist_edu.errors.DataError`
naming the file and the problem rather than returning a silently wrong array.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from fmnist_edu.errors import DataError

IMAGE_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
SIDE = 28
NUM_CLASSES = 10


def read_bytes(path: Path) -> bytes:
    """Return the file's bytes, decompressing gzip (detected by its magic bytes)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None


def _header(path: Path, data: bytes, magic: int, ndim: int) -> tuple[int, ...]:
    size = 4 * (1 + ndim)
    if len(data) < size:
        raise DataError(f"{path}: truncated: {len(data)} bytes, shorter than the IDX header")
    fields = struct.unpack(f">{1 + ndim}I", data[:size])
    if fields[0] != magic:
        kind = "image" if magic == IMAGE_MAGIC else "label"
        raise DataError(
            f"{path}: wrong magic number {fields[0]} (an IDX {kind} file starts with {magic})"
        )
    return fields[1:]


def _payload(path: Path, data: bytes, offset: int, expected: int) -> np.ndarray:
    actual = len(data) - offset
    if actual < expected:
        raise DataError(
            f"{path}: truncated: the header promises {expected} data bytes, found {actual}"
        )
    if actual > expected:
        raise DataError(
            f"{path}: {actual - expected} unexpected bytes after the {expected} the header promises"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).copy()


def read_idx_images(path: Path) -> np.ndarray:
    """Read an IDX image file into a ``uint8`` array of shape ``[N, 28, 28]``."""
    data = read_bytes(path)
    count, rows, cols = _header(path, data, IMAGE_MAGIC, 3)
    if (rows, cols) != (SIDE, SIDE):
        raise DataError(f"{path}: images are {rows}x{cols}, Fashion-MNIST images are 28x28")
    return _payload(path, data, 16, count * rows * cols).reshape(count, rows, cols)


def read_idx_labels(path: Path) -> np.ndarray:
    """Read an IDX label file into a ``uint8`` array of shape ``[N]``, checking the range."""
    data = read_bytes(path)
    (count,) = _header(path, data, LABEL_MAGIC, 1)
    labels = _payload(path, data, 8, count)
    check_labels(path, labels)
    return labels


def check_labels(path: Path, labels: np.ndarray) -> None:
    """Raise if any label lies outside ``0..9``, naming the first offending record."""
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path}: label {int(labels[i])} at record {i} is out of range "
            f"(labels are 0..{NUM_CLASSES - 1}; {bad.size} bad in all)"
        )


CSV_HEADER = ["label"] + [f"pixel{i}" for i in range(1, SIDE * SIDE + 1)]


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-format CSV into ``(images [N, 28, 28] uint8, labels [N] uint8)``.

    Each row is checked: 785 cells, all whole numbers, pixels in ``0..255`` and labels
    in ``0..9``. The error names the line and column of the first bad cell.
    """
    text = read_bytes(path).decode("utf-8", errors="replace")
    lines = text.splitlines()
    if not lines or [c.strip() for c in lines[0].split(",")] != CSV_HEADER:
        raise DataError(f"{path}: line 1: expected the header 'label,pixel1,...,pixel784'")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != len(CSV_HEADER):
            raise DataError(
                f"{path}: line {number}: {len(cells)} cells, expected {len(CSV_HEADER)}"
            )
        try:
            rows.append(np.array(cells, dtype=np.int64))
        except ValueError:
            col = next(i for i, c in enumerate(cells) if not c.strip().lstrip("-").isdigit())
            raise DataError(
                f"{path}: line {number}, column '{CSV_HEADER[col]}': "
                f"{cells[col].strip()!r} is not a whole number"
            ) from None
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    table = np.stack(rows)
    labels, pixels = table[:, 0], table[:, 1:]
    bad = np.argwhere((pixels < 0) | (pixels > 255))
    if bad.size:
        r, c = (int(v) for v in bad[0])
        raise DataError(
            f"{path}: line {r + 2}, column '{CSV_HEADER[c + 1]}': "
            f"pixel value {int(pixels[r, c])} is outside 0..255"
        )
    bad_labels = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if bad_labels.size:
        r = int(bad_labels[0])
        raise DataError(
            f"{path}: line {r + 2}, column 'label': {int(labels[r])} is out of range (0..9)"
        )
    images = pixels.astype(np.uint8).reshape(-1, SIDE, SIDE)
    return images, labels.astype(np.uint8)
