"""Fetch the official Fashion-MNIST release, checked against its official MD5 sums.

Each file is streamed into a temporary file of its own beside its destination (a hidden
``.NAME.XXXXXXXX.download``, which can collide neither with a user's file nor with another
run's), read back from disk to check its MD5, and renamed into place only when the sum
matches, with the permissions the umask gives a new file. An interrupted or corrupt
download therefore never leaves a file that a later run would trust. A lock file in the
folder makes concurrent downloads take turns, so the second finds the files the first
fetched and downloads nothing; and as every download writes only while holding the lock,
the temporary files found by the holder are those of a download that was killed, which it
removes.

The release comes from :func:`fmnist_edu.settings.mirrors` (``--mirror`` or
``FMNIST_EDU_MIRROR``, e.g. a course's own host) within
:func:`fmnist_edu.settings.download_deadline` per file. Whatever the mirror, each file must
match its official MD5 sum.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from fmnist_edu import data, http_fetch, settings
from fmnist_edu.errors import DownloadError
from fmnist_edu.http_fetch import MAX_BYTES

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; unique temporary files still keep it safe
    fcntl = None  # type: ignore[assignment]

#: Where the release is served by default, tried in order (see :func:`settings.mirrors`).
MIRRORS: tuple[str, ...] = settings.DEFAULT_MIRRORS

#: The official MD5 sums of the four compressed files (Xiao, Rasul & Vollgraf, 2017).
MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

#: The lock file concurrent downloads into one folder take turns on; it stays in place.
LOCK_NAME = ".fmnist_edu-download.lock"

CHUNK = 1 << 16
TEMP_SUFFIX = ".download"


class _FolderNotWritable(DownloadError):
    """The data folder itself cannot be written to, so no other mirror can help."""


@contextlib.contextmanager
def _writing(folder: Path, action: str = "be written to") -> Iterator[None]:
    """Turn a local filesystem error into advice to pick a writable data folder."""
    try:
        yield
    except OSError as exc:
        raise _FolderNotWritable(
            f"{folder}: the data folder cannot {action} ({exc.strerror or exc}). Choose a "
            "folder you can write to with --data-dir PATH or FMNIST_EDU_DATA=PATH"
        ) from None


def md5_of(path: Path) -> str:
    """Return the hex MD5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sum_of(path: Path) -> str:
    try:
        return md5_of(path)
    except OSError as exc:
        raise DownloadError(f"{path}: cannot be read ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold the folder's download lock, waiting while another download holds it."""
    with _writing(folder):
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def fetch(
    url: str,
    dest: Path,
    md5: str,
    timeout: float = 30.0,
    *,
    deadline: float = http_fetch.DEADLINE,
    max_bytes: int = MAX_BYTES,
) -> None:
    """Download ``url`` to ``dest`` atomically, raising if its MD5 is not ``md5``.

    The bytes go to a new temporary file beside ``dest``; its sum is computed from the
    file read back from disk, and only a file with the right sum is renamed to ``dest``.
    On any failure the temporary file is removed and ``dest`` is left as it was. See
    :func:`fmnist_edu.http_fetch.stream` for ``timeout``, ``deadline`` and ``max_bytes``.
    """
    folder = dest.parent
    with _writing(folder):
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=TEMP_SUFFIX, dir=folder)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:

            def write(chunk: bytes) -> None:
                with _writing(folder):
                    out.write(chunk)

            http_fetch.stream(url, write, timeout=timeout, deadline=deadline, max_bytes=max_bytes)
            with _writing(folder):
                out.flush()
                os.chmod(tmp, settings.new_file_mode())
                os.fsync(out.fileno())
        with _writing(folder, "be read"):
            actual = md5_of(tmp)  # the bytes that will land, not the bytes received
        if actual != md5:
            raise DownloadError(
                f"{url}: MD5 {actual} does not match the official {md5}; the file was discarded"
            )
        with _writing(folder):
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _stale(folder: Path, names: Sequence[str]) -> list[Path]:
    """Temporary files of our naming in ``folder``: while no download holds the lock, the
    leftovers of killed ones."""
    if fcntl is None or not folder.is_dir():  # without locks, one may belong to a live run
        return []
    return [tmp for name in names for tmp in folder.glob(f".{name}.*{TEMP_SUFFIX}")]


def _remove_stale(folder: Path, names: Sequence[str]) -> None:
    """Remove the files killed downloads left (the caller holds the lock)."""
    for tmp in _stale(folder, names):
        with _writing(folder, "be cleaned up"):
            tmp.unlink(missing_ok=True)


def _to_fetch(folder: Path, md5: dict[str, str], overwrite: bool) -> list[str]:
    """Names of the files to download: absent ones, and (with ``overwrite``) wrong ones."""
    names = []
    for name, expected in md5.items():
        dest = folder / name
        if dest.is_file() and _sum_of(dest) == expected:
            continue
        if dest.exists() and not overwrite:
            raise DownloadError(
                f"{dest}: exists but does not match the official MD5 {expected}; it was left "
                "untouched. Move it away, or download with --force to replace it"
            )
        names.append(name)
    return names


def _fetch_from_mirrors(
    name: str,
    dest: Path,
    expected: str,
    mirrors: Sequence[str],
    *,
    timeout: float,
    deadline: float,
    max_bytes: int,
    progress: Callable[[str], object],
) -> None:
    reasons = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        progress(f"{name}: fetching {url}")
        start = time.monotonic()
        try:
            fetch(url, dest, expected, timeout, deadline=deadline, max_bytes=max_bytes)
            seconds = time.monotonic() - start
            progress(f"{name}: {dest.stat().st_size:,} bytes in {seconds:.1f} s, MD5 checked")
            return
        except _FolderNotWritable:
            raise
        except DownloadError as exc:
            reasons.append(str(exc))
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            reasons.append(f"{url}: {type(exc).__name__}: {reason}")
    raise DownloadError(
        f"could not download {name} into {dest.parent}:\n  "
        + "\n  ".join(reasons)
        + "\nIf you are offline but have a copy of Fashion-MNIST, point at it with "
        "--data-dir PATH or FMNIST_EDU_DATA=PATH."
    )


def download_release(
    folder: str | os.PathLike,
    mirrors: Sequence[str] | None = None,
    md5: dict[str, str] | None = None,
    timeout: float = 30.0,
    overwrite: bool = False,
    *,
    deadline: float | None = None,
    max_bytes: int = MAX_BYTES,
    progress: Callable[[str], object] | None = None,
) -> list[Path]:
    """Download the four official files into ``folder``, skipping those already valid.

    ``md5`` defaults to :data:`MD5`, the official sums. A file already
    present with the right sum is kept; one with another sum is an error unless
    ``overwrite`` is true, so a copy the user put there is never replaced silently.
    Downloads into one folder take turns on its lock file; the holder removes the
    temporary files of downloads that were killed. Returns the files written.

    ``mirrors`` and ``deadline`` (seconds per file) default to the settings
    :func:`fmnist_edu.settings.mirrors` and :func:`fmnist_edu.settings.download_deadline`.

    ``progress``, when given, receives one line as each file starts and one when it has
    landed (its size, time and checked sum), so a long download is not silent.

    Each file is tried on every mirror in turn. Raises :class:`DownloadError` with every
    mirror's reason, and advice for working offline, when a file cannot be fetched, and
    one naming the folder when the folder cannot be created or written to.
    """
    mirrors = settings.mirrors() if mirrors is None else mirrors
    deadline = settings.download_deadline(deadline)
    md5 = MD5 if md5 is None else md5
    folder = Path(folder)
    if not _to_fetch(folder, md5, overwrite):  # all valid: a read-only folder is fine
        if _stale(folder, list(md5)) and os.access(folder, os.W_OK):
            with _folder_lock(folder):
                _remove_stale(folder, list(md5))
        return []
    with _writing(folder, "be created"):
        folder.mkdir(parents=True, exist_ok=True)
    written = []
    with _folder_lock(folder):
        _remove_stale(folder, list(md5))
        # Look again under the lock: another download may have fetched them meanwhile.
        for name in _to_fetch(folder, md5, overwrite):
            dest = folder / name
            _fetch_from_mirrors(
                name,
                dest,
                md5[name],
                mirrors,
                timeout=timeout,
                deadline=deadline,
                max_bytes=max_bytes,
                progress=progress or (lambda line: None),
            )
            written.append(dest)
    return written


def _other_layout(folder: Path) -> str | None:
    """Describe the copy in ``folder`` when it is in a layout without official sums."""
    if not data.has_data(folder):
        return None
    layout, files = data._find_layout(folder)  # type: ignore[misc]  # has_data: not None
    if layout == "csv":
        return "the Kaggle CSV pair"
    if layout == "idx" and files["train"][0].parent != folder:
        return "torchvision's FashionMNIST/raw folder"
    return "uncompressed IDX files" if layout == "idx" else None


def ensure_release(
    folder: str | os.PathLike,
    *,
    force: bool = False,
    mirrors: Sequence[str] | None = None,
    md5: dict[str, str] | None = None,
    timeout: float = 30.0,
    deadline: float | None = None,
    max_bytes: int = MAX_BYTES,
    progress: Callable[[str], object] | None = None,
) -> str:
    """Make sure ``folder`` holds a checked copy of the release; return a one-line report.

    This is ``fmnist-edu data download``. When the four official ``.gz`` files are there,
    each one's MD5 is verified (not just its existence): a file with another sum is an
    error naming it, or with ``force`` is replaced. A complete copy in a layout the
    official sums do not cover (raw IDX, torchvision's ``FashionMNIST/raw``, the Kaggle
    CSV pair) is reported and left alone, as downloading beside it would only duplicate
    it; ``force`` downloads the release anyway. Otherwise the missing files are fetched
    (completing a partial folder) with :func:`download_release`, which passes each
    file's start and end to ``progress``.
    """
    md5 = MD5 if md5 is None else md5
    folder = Path(folder)
    files = [folder / name for name in md5]
    if all(path.is_file() for path in files):
        bad = [path for path in files if _sum_of(path) != md5[path.name]]
        if not bad:
            return (
                f"{folder}: holds the official release, all four files match their MD5 sums; "
                "nothing to download"
            )
        if not force:
            raise DownloadError(
                f"{folder}: {', '.join(p.name for p in bad)}: not the official file(s), the "
                "MD5 sum differs; left untouched, and still readable as they are. Move the "
                "file(s) away, or download with --force to replace them"
            )
    elif not force and (layout := _other_layout(folder)) is not None:
        return (
            f"{folder}: holds a copy of Fashion-MNIST as {layout}, which cannot be checked "
            "against the official MD5 sums (they cover the four .gz files only); nothing to "
            "download (--force fetches the official release beside it)"
        )
    written = download_release(
        folder, mirrors, md5, timeout, overwrite=force, deadline=deadline, max_bytes=max_bytes,
        progress=progress,
    )  # fmt: skip
    return f"{folder}: {len(written)} file(s) downloaded, all four checked against MD5 sums"
