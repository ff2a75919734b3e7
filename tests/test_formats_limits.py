"""Files that expand far beyond what they claim are refused without being expanded."""

from __future__ import annotations

import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from conftest import idx_labels, synthetic, write_csv_folder, write_idx_folder

from fmnist_edu import data, formats
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


def test_a_count_beyond_fashion_mnist_is_refused_up_front(tmp_path):
    """999,999 images would be 784 MB: more than the whole release, so never read."""
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">4I", formats.IMAGE_MAGIC, 999_999, 28, 28)))
    with pytest.raises(DataError) as info:
        formats.read_idx_images(path)
    assert str(info.value) == (
        f"{path}: the header claims 999,999 images, more than the 70,000 records a "
        "Fashion-MNIST data folder holds in all (60,000 training + 10,000 test images)"
    )
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(struct.pack(">2I", formats.LABEL_MAGIC, 70_001))
    with pytest.raises(DataError, match=r"claims 70,001 labels, more than the 70,000 records"):
        formats.read_idx_labels(path)


def test_a_data_folder_holds_no_more_records_in_all_than_the_release(tmp_path):
    folder = write_idx_folder(tmp_path, n_train=40, n_test=20)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(struct.pack(">4I", formats.IMAGE_MAGIC, 69_961, 28, 28))
    )
    with pytest.raises(DataError, match=r"claims 69,961 images, more than the 69,960 left of the"):
        data.load(folder)


def test_a_label_file_with_extra_data_is_refused(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(idx_labels(np.arange(20) % 10) + b"\0")
    with pytest.raises(DataError, match=r"unexpected bytes after the 20 data bytes"):
        formats.read_idx_labels(path)


def test_a_csv_with_more_rows_than_the_limit_is_refused(tmp_path):
    path = write_csv_folder(tmp_path, n_train=30) / "fashion-mnist_train.csv"
    with pytest.raises(DataError, match=r"train.csv: line 10 is row 9, more than the 8 left of"):
        formats.read_csv(path, max_records=8)
    assert len(formats.read_csv(path, max_records=30)[0]) == 30


def test_csv_lines_as_long_as_a_row_can_be_are_read(tmp_path):
    """The longest row of 3-digit cells, with Windows line ends, is well within the bound."""
    path = tmp_path / "fashion-mnist_test.csv"
    row = ",".join(["9"] + ["255"] * 784)
    path.write_bytes((",".join(formats.CSV_HEADER) + "\r\n" + row + "\r\n").encode())
    images, labels = formats.read_csv(path)
    assert images.shape == (1, 28, 28) and (images == 255).all() and labels.tolist() == [9]


def test_blank_lines_are_bounded(tmp_path):
    path = tmp_path / "fashion-mnist_test.csv"
    header = ",".join(formats.CSV_HEADER) + "\n"
    path.write_bytes(gzip.compress(header.encode() + b"\n" * BOMB, compresslevel=1))
    with pytest.raises(DataError, match=r"test.csv: line 1002: more than 1,000 blank lines"):
        formats.read_csv(path)
