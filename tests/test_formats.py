"""The readers accept every supported layout and reject every kind of bad file clearly."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from conftest import csv_text, idx_images, idx_labels, synthetic, write_csv_folder, write_idx_folder

from fmnist_edu import data, formats
from fmnist_edu.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trips(tmp_path, gz):
    folder = write_idx_folder(tmp_path, n_train=40, n_test=20, gz=gz)
    dataset = data.load(folder)
    images, labels = synthetic(40, seed=40)
    assert dataset.layout == ("idx-gz" if gz else "idx")
    assert torch.equal(dataset.train.images, torch.from_numpy(images))
    assert dataset.train.labels.tolist() == labels.tolist()
    assert dataset.train.labels.dtype == torch.int64
    assert len(dataset.test) == 20


def test_torchvision_raw_layout(tmp_path):
    write_idx_folder(tmp_path / "FashionMNIST" / "raw", gz=False)
    assert len(data.load(tmp_path).train) == 40


def test_csv_layout_matches_idx(tmp_path):
    from_csv = data.load(write_csv_folder(tmp_path / "csv", n_train=30, n_test=10))
    images, labels = synthetic(30, seed=30)
    assert from_csv.layout == "csv"
    assert torch.equal(from_csv.train.images, torch.from_numpy(images))
    assert from_csv.train.labels.tolist() == labels.tolist()


def test_fingerprint_follows_content(tmp_path):
    a = data.load(write_idx_folder(tmp_path / "a"))
    b = data.load(write_idx_folder(tmp_path / "b"))
    assert a.fingerprint == b.fingerprint
    blob = idx_labels(np.zeros(20, dtype=np.uint8))
    (tmp_path / "b" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(blob))
    assert data.load(tmp_path / "b").fingerprint != a.fingerprint


def _replace(folder, name, blob):
    (folder / name).write_bytes(gzip.compress(blob))


def test_truncated_image_file(tmp_path):
    folder = write_idx_folder(tmp_path)
    images, _ = synthetic(40, seed=40)
    _replace(folder, "train-images-idx3-ubyte.gz", idx_images(images)[:-100])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: truncated"):
        data.load(folder)


def test_wrong_magic_number(tmp_path):
    folder = write_idx_folder(tmp_path)
    _replace(folder, "t10k-labels-idx1-ubyte.gz", idx_labels(np.zeros(20), magic=2051))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: wrong magic number 2051"):
        data.load(folder)


def test_image_label_count_mismatch(tmp_path):
    folder = write_idx_folder(tmp_path)
    _replace(folder, "train-labels-idx1-ubyte.gz", idx_labels(np.zeros(39)))
    with pytest.raises(DataError, match=r"holds 40 images but .* holds 39 labels"):
        data.load(folder)


def test_label_out_of_range(tmp_path):
    folder = write_idx_folder(tmp_path)
    labels = np.zeros(40)
    labels[7] = 12
    _replace(folder, "train-labels-idx1-ubyte.gz", idx_labels(labels))
    with pytest.raises(DataError, match=r"label 12 at record 7 is out of range"):
        data.load(folder)


def test_corrupt_gzip(tmp_path):
    folder = write_idx_folder(tmp_path)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        data.load(folder)


def test_incomplete_folder_names_what_is_there(tmp_path):
    folder = write_idx_folder(tmp_path)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"incomplete dataset: found .*t10k-labels"):
        data.load(folder)


def test_empty_folder_explains_how_to_get_data(tmp_path):
    with pytest.raises(DataError, match=r"no Fashion-MNIST files here.*FMNIST_EDU_DATA"):
        data.load(tmp_path)


def _csv_with_row(tmp_path, row):
    folder = write_csv_folder(tmp_path)
    path = folder / "fashion-mnist_train.csv"
    path.write_text(path.read_text() + row + "\n")
    return folder


def test_csv_row_of_wrong_length(tmp_path):
    folder = _csv_with_row(tmp_path, "3," + ",".join(["0"] * 700))
    with pytest.raises(
        DataError, match=r"fashion-mnist_train.csv: line 32: 701 cells, expected 785"
    ):
        data.load(folder)


def test_csv_non_numeric_cell(tmp_path):
    cells = ["0"] * 785
    cells[10] = "abc"
    folder = _csv_with_row(tmp_path, ",".join(cells))
    with pytest.raises(DataError, match=r"line 32, column 'pixel10': 'abc' is not a whole number"):
        data.load(folder)


def test_csv_pixel_and_label_ranges(tmp_path):
    cells = ["0"] * 785
    cells[3] = "300"
    with pytest.raises(DataError, match=r"column 'pixel3': pixel value 300 is outside 0..255"):
        data.load(_csv_with_row(tmp_path / "a", ",".join(cells)))
    cells = ["11"] + ["0"] * 784
    with pytest.raises(DataError, match=r"line 32, column 'label': 11 is out of range"):
        data.load(_csv_with_row(tmp_path / "b", ",".join(cells)))


def test_csv_bad_header(tmp_path):
    folder = write_csv_folder(tmp_path)
    images, labels = synthetic(10, seed=10)
    text = csv_text(images, labels).replace("label,", "class,", 1)
    (folder / "fashion-mnist_test.csv").write_text(text)
    with pytest.raises(DataError, match=r"fashion-mnist_test.csv: line 1: expected the header"):
        data.load(folder)


@pytest.mark.parametrize(
    "column, cell, message",
    [
        (10, "--5", r"column 'pixel10': '--5' is not a whole number"),
        (10, "²", r"column 'pixel10': '²' is not a whole number"),  # "²".isdigit() is True
        (10, "٣", r"column 'pixel10': '٣' is not a whole number"),  # int() reads it as 3
        (10, "1_0", r"column 'pixel10': '1_0' is not a whole number"),  # int() reads 10
        (10, "", r"column 'pixel10': '' is not a whole number"),
        (
            10,
            "99999999999999999999",
            r"column 'pixel10': pixel value 99999999999999999999 is outside",
        ),
        (10, "9" * 5000, r"column 'pixel10': pixel value 9{5000} is outside 0..255"),
        (
            0,
            "-99999999999999999999",
            r"column 'label': -99999999999999999999 is out of range \(0..9\)",
        ),
    ],
)
def test_csv_cells_that_are_not_small_whole_numbers(tmp_path, column, cell, message):
    cells = ["0"] * 785
    cells[column] = cell
    with pytest.raises(DataError, match=rf"fashion-mnist_train.csv: line 32, {message}"):
        data.load(_csv_with_row(tmp_path, ",".join(cells)))


def test_csv_signs_and_spaces_around_numbers_are_read(tmp_path):
    cells = ["+3"] + [" 7 "] + ["0"] * 783
    dataset = data.load(_csv_with_row(tmp_path, ",".join(cells)))
    assert dataset.train.labels[-1] == 3 and dataset.train.images[-1, 0, 0] == 7


def test_a_csv_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Spreadsheet programs save 'CSV UTF-8' with a BOM before the header."""
    images, labels = synthetic(10, seed=10)
    path = tmp_path / "fashion-mnist_test.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(images, labels).encode())
    read_images, read_labels = formats.read_csv(path)
    assert (read_images == images).all() and (read_labels == labels).all()


def test_a_utf16_csv_is_named_as_such(tmp_path):
    images, labels = synthetic(3)
    path = tmp_path / "fashion-mnist_test.csv"
    path.write_bytes(csv_text(images, labels).encode("utf-16"))
    with pytest.raises(DataError, match=r"test.csv: line 1: not UTF-8 text \(UTF-16\?\)"):
        formats.read_csv(path)
