"""Files that expand far beyond what they claim are refused without being expanded."""

from __future__ import annotations

import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from conftest import idx_labels, synthetic, write_csv_folder

from fmnist_edu import formats
from fmnist_edu.errors import DataError

BOMB = 50 << 20  # 50 MB of zeros, about 50 KB once compressed


def peak_memory_of(read, *args) -> tuple[int, str]:
    """Call ``read(*args)``, which must raise DataError; return its peak memory and message."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as info:
            read(*args)
        return tracemalloc.get_traced_memory()[1], str(info.value)
    finally:
        tracemalloc.stop()


def test_an_idx_file_expanding_past_its_header_is_refused_unexpanded(tmp_path):
    images, _ = synthetic(40)
    header = struct.pack(">4I", formats.IMAGE_MAGIC, 40, 28, 28)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + images.tobytes() + bytes(BOMB), compresslevel=1))
    assert path.stat().st_size < 1 << 20
    peak, message = peak_memory_of(formats.read_idx_images, path)
    assert message == (
        f"{path}: unexpected bytes after the {40 * 784} data bytes the header promises"
    )
    assert peak < 4 << 20  # reading all of it would take over 50 MB


def test_an_absurd_record_count_is_refused_up_front(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">4I", formats.IMAGE_MAGIC, 2_000_000, 28, 28)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: the header claims 2,000,000"):
        formats.read_idx_images(path)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">2I", formats.LABEL_MAGIC, 4_000_000_000))
    with pytest.raises(DataError, match=r"claims 4,000,000,000 labels, more than the 1,000,000"):
        formats.read_idx_labels(path)


def test_a_label_file_with_extra_data_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_labels(np.arange(20) % 10) + b"\0")
    with pytest.raises(DataError, match=r"unexpected bytes after the 20 data bytes"):
        formats.read_idx_labels(path)


def test_a_csv_line_that_never_ends_is_refused_unexpanded(tmp_path):
    path = tmp_path / "fashion-mnist_train.csv"
    header = ",".join(formats.CSV_HEADER) + "\n"
    path.write_bytes(gzip.compress(header.encode() + b"0" * BOMB, compresslevel=1))
    peak, message = peak_memory_of(formats.read_csv, path)
    assert message == f"{path}: line 2 is longer than 65,536 characters"
    assert peak < 4 << 20


def test_a_csv_longer_than_the_cap_is_refused(tmp_path, monkeypatch):
    path = write_csv_folder(tmp_path, n_train=30) / "fashion-mnist_train.csv"
    monkeypatch.setattr(formats, "MAX_CSV_CHARS", 20_000)  # about eight rows
    with pytest.raises(DataError, match=r"train.csv: line \d+: the file is longer than 20,000"):
        formats.read_csv(path)
