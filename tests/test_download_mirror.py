"""A course's own mirror (--mirror, FMNIST_EDU_MIRROR) and the download deadline setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import serve_files

from fmnist_edu import download, settings
from fmnist_edu.cli import main
from fmnist_edu.download import MD5, download_release, md5_of
from fmnist_edu.errors import ConfigError


@pytest.fixture
def mirror(subset_dir: Path):
    """Serve the subset's four files under their official names, as a course's host would."""
    with serve_files({n: (subset_dir / n).read_bytes() for n in MD5}, "/course/fmnist/") as served:
        yield served


@pytest.fixture
def subset_sums(subset_dir: Path) -> dict[str, str]:
    """The subset's own sums: the tests' stand-in for the official ones."""
    return {name: md5_of(subset_dir / name) for name in MD5}


def test_mirrors_setting_precedence(monkeypatch):
    monkeypatch.delenv(settings.MIRROR_ENV, raising=False)
    assert settings.mirrors() == settings.DEFAULT_MIRRORS == download.MIRRORS
    monkeypatch.setenv(settings.MIRROR_ENV, "http://a.example/x/, https://b.example/y/")
    assert settings.mirrors() == ("http://a.example/x/", "https://b.example/y/")
    assert settings.mirrors("http://c.example/") == ("http://c.example/",)


@pytest.mark.parametrize("bad", ["ftp://host/x/", "/srv/fmnist", "http:/"])
def test_a_mirror_that_is_not_an_http_url_is_named(monkeypatch, bad):
    monkeypatch.setenv(settings.MIRROR_ENV, bad)
    with pytest.raises(ConfigError, match=rf"FMNIST_EDU_MIRROR='{bad}': not an http"):
        settings.mirrors()


def test_download_from_the_mirror_in_the_environment(tmp_path, mirror, subset_sums, monkeypatch):
    url, requests = mirror
    monkeypatch.setenv(settings.MIRROR_ENV, url)
    written = download_release(tmp_path / "d", md5=subset_sums)
    assert sorted(p.name for p in written) == sorted(MD5)
    assert sorted(requests) == sorted(MD5)
    assert all(md5_of(p) == subset_sums[p.name] for p in written)


def test_cli_download_from_a_mirror(tmp_path, mirror, subset_sums, monkeypatch, capsys):
    url, requests = mirror
    monkeypatch.setattr(download, "MD5", subset_sums)  # the files this mirror serves
    assert main(["data", "download", "--data-dir", str(tmp_path), "--mirror", url]) == 0
    out, err = capsys.readouterr()
    assert "4 file(s) downloaded" in out
    assert sorted(requests) == sorted(MD5)
    # Progress goes to stderr: one line as each file starts, one with its size when checked.
    lines = err.splitlines()
    for name in MD5:
        size = (tmp_path / name).stat().st_size
        assert f"{name}: fetching {url.rstrip('/')}/{name}" in lines
        assert any(line.startswith(f"{name}: {size:,} bytes in ") for line in lines)


def test_a_mirror_is_held_to_the_official_sums(tmp_path, mirror, capsys):
    """The subset is not the official release: a mirror serving it is refused, by name."""
    url, requests = mirror
    assert main(["data", "download", "--data-dir", str(tmp_path), "--mirror", url]) == 1
    err = capsys.readouterr().err
    assert f"{url}train-images-idx3-ubyte.gz: MD5 " in err
    assert "does not match the official 8d4fb7e6c68d591d4c3dfef9ec88bf0d" in err
    assert requests == ["train-images-idx3-ubyte.gz"]
    assert not list(tmp_path.glob("*.gz"))


def test_deadline_setting(monkeypatch):
    monkeypatch.delenv(settings.DEADLINE_ENV, raising=False)
    assert settings.download_deadline() == 600
    monkeypatch.setenv(settings.DEADLINE_ENV, "90")
    assert settings.download_deadline() == 90
    assert settings.download_deadline(5) == 5
    for bad in ("0", "-3", "inf", "nan", "soon"):
        monkeypatch.setenv(settings.DEADLINE_ENV, bad)
        with pytest.raises(ConfigError, match=rf"FMNIST_EDU_DOWNLOAD_DEADLINE='{bad}': not a"):
            settings.download_deadline()


def test_cli_refuses_a_bad_deadline_in_one_line(tmp_path, capsys):
    assert main(["data", "download", "--data-dir", str(tmp_path), "--deadline", "-1"]) == 1
    err = capsys.readouterr().err
    assert err == "error: --deadline='-1': not a positive number of seconds\n"


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_downloaded_files_get_the_permissions_of_the_umask(
    tmp_path, mirror, subset_sums, umask, mode
):
    url, _ = mirror
    previous = os.umask(umask)
    try:
        written = download_release(tmp_path, mirrors=[url], md5=subset_sums)
    finally:
        os.umask(previous)
    assert [p.stat().st_mode & 0o777 for p in written] == [mode] * 4


def test_a_killed_downloads_temporary_file_is_removed_by_the_next_run(
    tmp_path, mirror, subset_sums, subset_dir
):
    url, _ = mirror
    name = "t10k-labels-idx1-ubyte.gz"
    stale = tmp_path / f".{name}.k1ll3d00.download"  # the pattern of fetch's mkstemp
    stale.write_bytes(b"half a file")
    mine = tmp_path / f".{name}.notes"  # a user's hidden file of another pattern
    mine.write_bytes(b"mine")
    download_release(tmp_path, mirrors=[url], md5=subset_sums)
    assert not stale.exists() and mine.read_bytes() == b"mine"
    # Also when every file is already in place, and nothing is downloaded.
    stale.write_bytes(b"half a file")
    assert download_release(tmp_path, mirrors=[url], md5=subset_sums) == []
    assert not stale.exists()
