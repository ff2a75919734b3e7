"""ensure_release, behind 'fmnist-edu data download': every state a data folder can be in."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import serve_files, write_csv_folder, write_idx_folder

from fmnist_edu import data
from fmnist_edu.download import MD5, ensure_release, md5_of
from fmnist_edu.errors import DownloadError


@pytest.fixture
def server(subset_dir: Path):
    """Serve the subset's four files on 127.0.0.1; yield the URL and the requested names."""
    with serve_files({n: (subset_dir / n).read_bytes() for n in MD5}, "/") as served:
        yield served


@pytest.fixture
def sums(subset_dir: Path) -> dict[str, str]:
    return {name: md5_of(subset_dir / name) for name in MD5}


def copy_release(subset_dir: Path, folder: Path, names=tuple(MD5)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes((subset_dir / name).read_bytes())
    return folder


def test_an_empty_folder_is_filled(tmp_path, server, sums):
    url, requests = server
    message = ensure_release(tmp_path / "new", mirrors=[url], md5=sums)
    assert message == (
        f"{tmp_path / 'new'}: 4 file(s) downloaded, all four checked against MD5 sums"
    )
    assert sorted(requests) == sorted(MD5)
    assert data.has_data(tmp_path / "new")


def test_a_partial_folder_is_completed(tmp_path, server, sums, subset_dir):
    url, requests = server
    copy_release(subset_dir, tmp_path, ["train-images-idx3-ubyte.gz"])
    message = ensure_release(tmp_path, mirrors=[url], md5=sums)
    assert message.endswith(": 3 file(s) downloaded, all four checked against MD5 sums")
    assert "train-images-idx3-ubyte.gz" not in requests and len(requests) == 3


def test_a_complete_release_is_checked_not_just_counted(tmp_path, server, sums, subset_dir):
    url, requests = server
    copy_release(subset_dir, tmp_path)
    message = ensure_release(tmp_path, mirrors=[url], md5=sums)
    assert message == (
        f"{tmp_path}: holds the official release, all four files match their MD5 sums; "
        "nothing to download"
    )
    assert requests == []


def test_a_file_with_another_sum_is_named_and_kept_unless_forced(
    tmp_path, server, sums, subset_dir
):
    url, requests = server
    copy_release(subset_dir, tmp_path)
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-1] + b"!")
    with pytest.raises(DownloadError, match=r"t10k-labels-idx1-ubyte.gz: not the official file"):
        ensure_release(tmp_path, mirrors=[url], md5=sums)
    assert bad.read_bytes().endswith(b"!") and requests == []
    message = ensure_release(tmp_path, force=True, mirrors=[url], md5=sums)
    assert message.endswith(": 1 file(s) downloaded, all four checked against MD5 sums")
    assert requests == ["t10k-labels-idx1-ubyte.gz"]
    assert md5_of(bad) == sums[bad.name]


@pytest.mark.parametrize(
    "make, described",
    [
        (lambda f: write_idx_folder(f, gz=False), "uncompressed IDX files"),
        (lambda f: write_idx_folder(f / "FashionMNIST" / "raw", gz=False), "FashionMNIST/raw"),
        (write_csv_folder, "the Kaggle CSV pair"),
    ],
)
def test_a_copy_in_another_layout_is_reported_not_duplicated(
    tmp_path, server, sums, make, described
):
    url, requests = server
    make(tmp_path)
    message = ensure_release(tmp_path, mirrors=[url], md5=sums)
    assert message.startswith(f"{tmp_path}: holds a copy of Fashion-MNIST as ")
    assert described in message
    assert "cannot be checked against the official MD5 sums" in message
    assert requests == [] and not list(tmp_path.glob("*.gz"))
    # With --force the official release is fetched beside it.
    message = ensure_release(tmp_path, force=True, mirrors=[url], md5=sums)
    assert message.endswith(": 4 file(s) downloaded, all four checked against MD5 sums")
    assert data.load(tmp_path).layout == "idx-gz"
