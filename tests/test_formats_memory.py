"""Reading takes about as much memory as the data accepted, and a bomb no more than that.

Each read runs in a fresh Python process, which reports how far its resident memory
grew past what it held before the read (Linux's peak, ``VmHWM``, reset just before,
against ``VmRSS``), so allocations outside Python's heap count too.
"""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from fmnist_edu import data, formats

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")

#: The release's pixels and labels: 60,000 + 10,000 records of 785 bytes.
MOST_DATA = 70_000 * (28 * 28 + 1)

CHILD = """
from pathlib import Path
from fmnist_edu import {module}
from fmnist_edu.errors import DataError

path = Path({path!r})


def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from here
before = rss("VmRSS")
try:
    {call}
    outcome = "read"
except DataError as exc:
    outcome = str(exc)
print(rss("VmHWM") - before)
print(outcome)
"""


def growth_of(call: str, path: Path) -> tuple[int, str]:
    """Run ``call`` (with ``path`` bound) in a new process: (bytes of growth, outcome)."""
    code = CHILD.format(module=call.split(".")[0], path=str(path), call=call)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    grown, outcome = done.stdout.splitlines()
    return int(grown), outcome


def test_a_csv_bomb_stops_at_the_limit_holding_no_more_than_it(tmp_path):
    """A small gzip file of 12,000 rows (19 MB of text) read with room for 10,000 rows
    (what a test file may hold after 60,000 training images; parsing 70,000 would be slow)."""
    path = tmp_path / "fashion-mnist_test.csv"
    row = (",".join(["0"] * 785) + "\n").encode()
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write((",".join(formats.CSV_HEADER) + "\n").encode())
        f.write(row * 12_000)
    assert path.stat().st_size < 1 << 20
    grown, outcome = growth_of("formats.read_csv(path, 10_000)", path)
    assert outcome.startswith(f"{path}: line 10002 is row 10,001, more than the 10,000 left of")
    assert grown < 1.5 * 10_000 * 785


def test_a_csv_line_that_never_ends_takes_no_memory(tmp_path):
    path = tmp_path / "fashion-mnist_train.csv"
    header = ",".join(formats.CSV_HEADER) + "\n"
    path.write_bytes(gzip.compress(header.encode() + b"0" * (50 << 20), compresslevel=1))
    grown, outcome = growth_of("formats.read_csv(path)", path)
    assert outcome == f"{path}: line 2 is longer than 8,192 characters"
    assert grown < 8 << 20  # reading the line would take over 50 MB


def test_loading_a_full_size_folder_peaks_near_the_size_of_its_data(tmp_path):
    """The release's 60,000 + 10,000 records (as zeros): loading holds about one copy."""
    for split, n in (("train", 60_000), ("test", 10_000)):
        images, labels = data.IDX_FILES[split]
        blob = struct.pack(">4I", formats.IMAGE_MAGIC, n, 28, 28) + bytes(n * 784)
        (tmp_path / f"{images}.gz").write_bytes(gzip.compress(blob, compresslevel=1))
        blob = struct.pack(">2I", formats.LABEL_MAGIC, n) + bytes(n)
        (tmp_path / f"{labels}.gz").write_bytes(gzip.compress(blob, compresslevel=1))
    grown, outcome = growth_of("data.load(path)", tmp_path)
    assert outcome == "read"
    assert grown < 1.5 * MOST_DATA
