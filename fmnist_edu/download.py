"""Fetch the official Fashion-MNIST release, checked against its official MD5 sums.

Each file is streamed into a temporary ``*.part`` file beside its destination, its MD5
computed on the way, and renamed into place only when the sum matches. An interrupted
or corrupt download therefore never leaves a file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from fmnist_edu.errors import DownloadError

#: Where the release is served, tried in order.
MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

#: The official MD5 sums of the four compressed files (Xiao, Rasul & Vollgraf, 2017).
MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

CHUNK = 1 << 16


def md5_of(path: Path) -> str:
    """Return the hex MD5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, dest: Path, md5: str, timeout: float = 30.0) -> None:
    """Download ``url`` to ``dest`` atomically, raising if its MD5 is not ``md5``.

    The bytes go to ``dest.part`` first; only a complete file with the right sum is
    renamed to ``dest``. On any failure the partial file is removed.
    """
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != md5:
            raise DownloadError(
                f"{url}: MD5 {digest.hexdigest()} does not match the official {md5}; "
                "the file was discarded"
            )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)


def download_release(
    folder: str | os.PathLike,
    mirrors: Sequence[str] | None = None,
    md5: dict[str, str] | None = None,
    timeout: float = 30.0,
    overwrite: bool = False,
) -> list[Path]:
    """Download the four official files into ``folder``, skipping those already valid.

    ``mirrors`` and ``md5`` default to :data:`MIRRORS` and :data:`MD5`. A file already
    present with the right sum is kept; one with another sum is an error unless
    ``overwrite`` is true, so a copy the user put there is never replaced silently.

    Each file is tried on every mirror in turn. Raises :class:`DownloadError` with every
    mirror's reason, and advice for working offline, when a file cannot be fetched.
    """
    mirrors = MIRRORS if mirrors is None else mirrors
    md5 = MD5 if md5 is None else md5
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"{folder}: cannot create the data folder ({exc})") from None
    written = []
    for name, expected in md5.items():
        dest = folder / name
        if dest.is_file() and md5_of(dest) == expected:
            continue
        if dest.exists() and not overwrite:
            raise DownloadError(
                f"{dest}: exists but does not match the official MD5 {expected}; it was left "
                "untouched. Move it away, or download with --force to replace it"
            )
        reasons = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            try:
                fetch(url, dest, expected, timeout=timeout)
                break
            except DownloadError as exc:
                reasons.append(str(exc))
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                reasons.append(f"{url}: {type(exc).__name__}: {reason}")
        else:
            raise DownloadError(
                f"could not download {name} into {folder}:\n  "
                + "\n  ".join(reasons)
                + "\nIf you are offline but have a copy of Fashion-MNIST, point at it with "
                "--data-dir PATH or FMNIST_EDU_DATA=PATH."
            )
        written.append(dest)
    return written
