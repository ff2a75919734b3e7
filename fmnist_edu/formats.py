"""Readers for the two on-disk formats of Fashion-MNIST, with strict validation.

- IDX (the official release): a big-endian header (magic number, counts, dimensions)
  followed by raw ``uint8`` bytes, optionally gzip-compressed.
- CSV (the Kaggle copy): a header ``label,pixel1,...,pixel784`` and one row per image.

Every reader checks what it reads and raises :class:`~fmnist_edu.errors.DataError`
naming the file and the problem rather than returning a silently wrong array. Files are
read as streams and decompressed only as far as needed: an IDX reader reads the header,
then at most one byte more than the header promises, so a small gzip file that expands
to gigabytes is refused without being expanded into memory.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn

import numpy as np

from fmnist_edu.errors import DataError

IMAGE_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
SIDE = 28
NUM_CLASSES = 10

#: Most records an IDX file may claim; Fashion-MNIST has 70,000 images in all.
MAX_RECORDS = 1_000_000
#: Most characters a CSV file may hold; the Kaggle training file has about 130 million.
MAX_CSV_CHARS = 1 << 30
#: Longest CSV line accepted; a row of 785 cells is under 4,000 characters.
MAX_LINE_CHARS = 1 << 16

GZIP_MAGIC = b"\x1f\x8b"


@contextlib.contextmanager
def open_data(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` as a stream of bytes, decompressing gzip (found by its magic bytes).

    Nothing is decompressed before it is read, so the caller decides how much to expand.
    Errors while opening or reading, inside the ``with`` block too, become a
    :class:`DataError` naming the file.
    """
    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) if compressed else contextlib.nullcontext(raw) as f:
                yield f
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _header(path: Path, f: BinaryIO, magic: int, ndim: int) -> tuple[int, ...]:
    """Read and check an IDX header; return its dimensions, the record count first."""
    size = 4 * (1 + ndim)
    data = f.read(size)
    if len(data) < size:
        raise DataError(f"{path}: truncated: {len(data)} bytes, shorter than the IDX header")
    fields = struct.unpack(f">{1 + ndim}I", data)
    kind = "image" if magic == IMAGE_MAGIC else "label"
    if fields[0] != magic:
        raise DataError(
            f"{path}: wrong magic number {fields[0]} (an IDX {kind} file starts with {magic})"
        )
    if fields[1] > MAX_RECORDS:
        raise DataError(
            f"{path}: the header claims {fields[1]:,} {kind}s, more than the {MAX_RECORDS:,} "
            "a Fashion-MNIST file can hold"
        )
    return fields[1:]


def _payload(path: Path, f: BinaryIO, expected: int) -> np.ndarray:
    """Read the ``expected`` data bytes, and one more to detect data beyond them."""
    data = f.read(expected + 1)
    if len(data) < expected:
        raise DataError(
            f"{path}: truncated: the header promises {expected} data bytes, found {len(data)}"
        )
    if len(data) > expected:
        raise DataError(
            f"{path}: unexpected bytes after the {expected} data bytes the header promises"
        )
    return np.frombuffer(data, dtype=np.uint8).copy()


def read_idx_images(path: Path) -> np.ndarray:
    """Read an IDX image file into a ``uint8`` array of shape ``[N, 28, 28]``."""
    with open_data(path) as f:
        count, rows, cols = _header(path, f, IMAGE_MAGIC, 3)
        if (rows, cols) != (SIDE, SIDE):
            raise DataError(f"{path}: images are {rows}x{cols}, Fashion-MNIST images are 28x28")
        pixels = _payload(path, f, count * rows * cols)
    return pixels.reshape(count, rows, cols)


def read_idx_labels(path: Path) -> np.ndarray:
    """Read an IDX label file into a ``uint8`` array of shape ``[N]``, checking the range."""
    with open_data(path) as f:
        (count,) = _header(path, f, LABEL_MAGIC, 1)
        labels = _payload(path, f, count)
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

# A cell is an optional sign and ASCII digits (str.isdigit() and int() also accept "²",
# "٣" or "1_0"); a row is such cells joined by commas, checked with one match per row.
_CELL = r"[ \t]*[+-]?[0-9]+[ \t]*"
CELL = re.compile(_CELL)
ROW = re.compile(rf"{_CELL}(?:,{_CELL})*")


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-format CSV into ``(images [N, 28, 28] uint8, labels [N] uint8)``.

    Each row is checked: 785 cells, all whole numbers, pixels in ``0..255`` and labels
    in ``0..9``. The error names the line and column of the first bad cell. The file is
    read line by line, and one longer than :data:`MAX_LINE_CHARS` or longer in all than
    :data:`MAX_CSV_CHARS` is refused, so a gzip bomb is never expanded into memory.
    """
    rows = []
    with open_data(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        header = _csv_line(path, text, 1)
        if header is None or [c.strip() for c in header.split(",")] != CSV_HEADER:
            raise DataError(f"{path}: line 1: expected the header 'label,pixel1,...,pixel784'")
        read = len(header)
        for number in itertools.count(2):
            line = _csv_line(path, text, number)
            if line is None:
                break
            read += len(line)
            if read > MAX_CSV_CHARS:
                raise DataError(
                    f"{path}: line {number}: the file is longer than {MAX_CSV_CHARS:,} "
                    "characters, far more than the Fashion-MNIST CSV holds"
                )
            if line.strip():
                rows.append(_csv_row(path, number, line))
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    table = np.stack(rows)
    return table[:, 1:].reshape(-1, SIDE, SIDE), table[:, 0].copy()


def _csv_line(path: Path, text: io.TextIOBase, number: int) -> str | None:
    """Return line ``number`` without its newline, or None at the end of the file."""
    line = text.readline(MAX_LINE_CHARS + 1)
    if len(line) > MAX_LINE_CHARS:
        raise DataError(f"{path}: line {number} is longer than {MAX_LINE_CHARS:,} characters")
    return line.rstrip("\n") if line else None


def _csv_row(path: Path, number: int, line: str) -> np.ndarray:
    """Return one row as ``uint8 [785]``, label first, or raise naming its first bad cell."""
    cells = line.split(",")
    if len(cells) != len(CSV_HEADER):
        raise DataError(f"{path}: line {number}: {len(cells)} cells, expected {len(CSV_HEADER)}")
    if ROW.fullmatch(line):
        with contextlib.suppress(ValueError, OverflowError):  # say a 20-digit cell
            values = np.array(cells, dtype=np.int64)
            pixels = values[1:]
            if 0 <= values[0] < NUM_CLASSES and pixels.min() >= 0 and pixels.max() <= 255:
                return values.astype(np.uint8)
    _explain(path, number, cells)


def _explain(path: Path, number: int, cells: list[str]) -> NoReturn:
    """Raise the error for the first bad cell of a row that failed the quick checks."""
    where = [f"{path}: line {number}, column '{name}'" for name in CSV_HEADER]
    for col, cell in enumerate(cells):
        if not CELL.fullmatch(cell):
            raise DataError(f"{where[col]}: {cell.strip()!r} is not a whole number")
    for col, cell in enumerate(cells[1:], start=1):
        if not 0 <= _value(cell) <= 255:
            raise DataError(f"{where[col]}: pixel value {cell.strip()} is outside 0..255")
    if not 0 <= _value(cells[0]) < NUM_CLASSES:
        raise DataError(f"{where[0]}: {cells[0].strip()} is out of range (0..9)")
    raise DataError(f"{path}: line {number}: cannot be read as whole numbers")  # not reached


def _value(cell: str) -> int:
    """The number in a cell that matched :data:`CELL`; absurdly long ones are clipped."""
    text = cell.strip()
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-").lstrip("0") or "0"
    return sign * (int(digits) if len(digits) <= 20 else 10**20)
