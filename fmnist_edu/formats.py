"""Readers for the two on-disk formats of Fashion-MNIST, with strict validation.

- IDX (the official release): a big-endian header (magic number, counts, dimensions)
  followed by raw ``uint8`` bytes, optionally gzip-compressed.
- CSV (the Kaggle copy): a header ``label,pixel1,...,pixel784`` and one row per image.

Every reader checks what it reads and raises :class:`~fmnist_edu.errors.DataError`
naming the file and the problem rather than returning a silently wrong array.

What a file may hold is bounded by what Fashion-MNIST is: at most :data:`MAX_RECORDS`
(70,000) records, the whole release, and a data folder no more in all (see
:func:`fmnist_edu.data.load`), so at most 55 MB of pixels; CSV lines are at most
:data:`MAX_LINE_CHARS` long. Files are read as streams, decompressed only as far as
needed, straight into an array of the size promised: an IDX reader reads the header,
refuses a count over the bound, then at most one byte more than the header promises; the
CSV reader stops at the first row over the bound. So a small gzip file that expands to
gigabytes is refused without being expanded into memory, and reading peaks near the size
of the data accepted.
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

#: Most records a data folder may hold in all, hence any one file: the release's 60,000
#: training and 10,000 test images (55 MB of pixels).
MAX_RECORDS = 60_000 + 10_000
#: Longest CSV line accepted: the header has 6,953 characters, a row of 785 cells of at
#: most 3 digits 3,139, so this leaves room for padded cells and nothing much else.
MAX_LINE_CHARS = 8192
#: Blank lines a CSV file may hold (they are skipped) besides its rows.
MAX_BLANK_LINES = 1000
#: Bytes decompressed per read when filling an array.
CHUNK = 1 << 20

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


def too_many(path: Path, what: str, limit: int) -> DataError:
    """The error for a file holding more records than ``limit`` (see :data:`MAX_RECORDS`)."""
    left = f"the {limit:,} left of " if limit < MAX_RECORDS else ""
    return DataError(
        f"{path}: {what}, more than {left}the {MAX_RECORDS:,} records a Fashion-MNIST data "
        "folder holds in all (60,000 training + 10,000 test images)"
    )


def _header(
    path: Path, f: BinaryIO, magic: int, ndim: int, limit: int = MAX_RECORDS
) -> tuple[int, ...]:
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
    if fields[1] > limit:
        raise too_many(path, f"the header claims {fields[1]:,} {kind}s", limit)
    return fields[1:]


def _payload(path: Path, f: BinaryIO, expected: int) -> np.ndarray:
    """Read the ``expected`` data bytes into an array, then one more to detect extra data.

    The bytes go chunk by chunk into the array they end up in, so reading takes no more
    memory than the data itself.
    """
    out = np.empty(expected, dtype=np.uint8)
    view, found = memoryview(out), 0
    while found < expected and (n := f.readinto(view[found : found + CHUNK])):
        found += n
    if found < expected:
        raise DataError(
            f"{path}: truncated: the header promises {expected} data bytes, found {found}"
        )
    if f.read(1):
        raise DataError(
            f"{path}: unexpected bytes after the {expected} data bytes the header promises"
        )
    return out


def read_idx_images(path: Path, max_records: int = MAX_RECORDS) -> np.ndarray:
    """Read an IDX image file into a ``uint8`` array of shape ``[N, 28, 28]``.

    A file claiming more than ``max_records`` images is refused before its data is read.
    """
    with open_data(path) as f:
        count, rows, cols = _header(path, f, IMAGE_MAGIC, 3, max_records)
        if (rows, cols) != (SIDE, SIDE):
            raise DataError(f"{path}: images are {rows}x{cols}, Fashion-MNIST images are 28x28")
        pixels = _payload(path, f, count * rows * cols)
    return pixels.reshape(count, rows, cols)


def read_idx_labels(path: Path, max_records: int = MAX_RECORDS) -> np.ndarray:
    """Read an IDX label file into a ``uint8`` array of shape ``[N]``, checking the range.

    A file claiming more than ``max_records`` labels is refused before its data is read.
    """
    with open_data(path) as f:
        (count,) = _header(path, f, LABEL_MAGIC, 1, max_records)
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


def read_csv(path: Path, max_records: int = MAX_RECORDS) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-format CSV into ``(images [N, 28, 28] uint8, labels [N] uint8)``.

    Each row is checked: 785 cells, all whole numbers, pixels in ``0..255`` and labels
    in ``0..9``. The error names the line and column of the first bad cell. A UTF-8
    byte-order mark (as spreadsheet programs write) is skipped. The file is read line by
    line into arrays sized for ``max_records`` rows, which are filled only as rows
    arrive; a file with more rows, a line longer than :data:`MAX_LINE_CHARS` or more than
    :data:`MAX_BLANK_LINES` blank lines is refused, so a gzip bomb is never expanded
    into memory.
    """
    images = np.empty((max_records, SIDE * SIDE), dtype=np.uint8)  # pages fill as used
    labels = np.empty(max_records, dtype=np.uint8)
    count = blank = 0
    with open_data(path) as raw:
        if raw.peek(2)[:2] in (b"\xff\xfe", b"\xfe\xff"):  # type: ignore[attr-defined]
            raise DataError(f"{path}: line 1: not UTF-8 text (UTF-16?); save it as UTF-8 CSV")
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace")
        header = _csv_line(path, text, 1)
        if header is None or [c.strip() for c in header.split(",")] != CSV_HEADER:
            raise DataError(f"{path}: line 1: expected the header 'label,pixel1,...,pixel784'")
        for number in itertools.count(2):
            line = _csv_line(path, text, number)
            if line is None:
                break
            if not line.strip():
                blank += 1
                if blank > MAX_BLANK_LINES:
                    raise DataError(
                        f"{path}: line {number}: more than {MAX_BLANK_LINES:,} blank lines"
                    )
                continue
            if count == max_records:
                raise too_many(path, f"line {number} is row {count + 1:,}", max_records)
            row = _csv_row(path, number, line)
            labels[count], images[count] = row[0], row[1:]
            count += 1
    if not count:
        raise DataError(f"{path}: no data rows after the header")
    return images[:count].reshape(count, SIDE, SIDE), labels[:count]


def _csv_line(path: Path, text: io.TextIOBase, number: int) -> str | None:
    """Return line ``number`` without its newline, or None at the end of the file."""
    line = text.readline(MAX_LINE_CHARS + 2)  # room for a "\r\n"
    if len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
        raise DataError(f"{path}: line {number} is longer than {MAX_LINE_CHARS:,} characters")
    return line.rstrip("\r\n") if line else None


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
