"""Where things live: the data folder, the results cache, the profile, the device, how
the seeds of a design are trained (``FMNIST_EDU_TRAINER``), and where (and how
patiently) the release is downloaded from.

Each setting follows the same order of precedence: an explicit argument, then an
environment variable, then a default (for folders: one inside the project when running
from a checkout, else a per-user cache folder).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from fmnist_edu import http_fetch
from fmnist_edu.errors import ConfigError

DATA_ENV = "FMNIST_EDU_DATA"
CACHE_ENV = "FMNIST_EDU_CACHE"
PROFILE_ENV = "FMNIST_EDU_PROFILE"
MIRROR_ENV = "FMNIST_EDU_MIRROR"
DEADLINE_ENV = "FMNIST_EDU_DOWNLOAD_DEADLINE"
TRAINER_ENV = "FMNIST_EDU_TRAINER"
#: How the seeds of one design are trained: batched where it was measured to pay
#: (``"auto"``), always one at a time (``"solo"``), or always batched (``"batched"``).
TRAINERS = ("auto", "solo", "batched")

#: Where the official release is served, tried in order (Xiao, Rasul & Vollgraf, 2017).
DEFAULT_MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)
#: Seconds one file may take to download, from connecting to its last byte.
DEFAULT_DEADLINE = http_fetch.DEADLINE
CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
#: The cuBLAS workspace settings under which cuBLAS is deterministic (NVIDIA's docs).
DETERMINISTIC_CUBLAS = (":4096:8", ":16:8")

# Deterministic training on a GPU (see fmnist_edu.training) needs cuBLAS to run with a
# fixed workspace, which it reads when CUDA starts. Importing this module (as data,
# training, experiments and the CLI do) sets it unless the user already did, so it is in
# place before the first CUDA call of a program that imports fmnist_edu first.
os.environ.setdefault(CUBLAS_ENV, DETERMINISTIC_CUBLAS[0])


def project_root() -> Path | None:
    """Return the checkout's root when the package runs from one, else ``None``.

    A checkout is recognised by a ``pyproject.toml`` naming ``fmnist-edu`` beside the
    package folder (as with ``pip install -e .``).
    """
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "fmnist-edu"' in pyproject.read_text(errors="replace"):
        return root
    return None


def user_cache_dir() -> Path:
    """Return the per-user cache folder (``$XDG_CACHE_HOME/fmnist_edu``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fmnist_edu"


def _resolve(explicit: str | os.PathLike | None, env: str, in_checkout: str, user: str) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    root = project_root()
    return root / in_checkout if root else user_cache_dir() / user


def new_file_mode() -> int:
    """The permissions ``open`` gives a new file under the umask (0644 under umask 022).

    ``tempfile.mkstemp`` creates files readable by their owner only; the downloader and
    the results store give the files they rename into place these permissions instead,
    so a data folder or store shared by a group is readable as its umask intends.
    """
    mask = os.umask(0o022)  # the only portable way to read it: set it, then restore it
    os.umask(mask)
    return 0o666 & ~mask


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the data folder: argument, ``FMNIST_EDU_DATA``, ``data/``, user cache."""
    return _resolve(explicit, DATA_ENV, "data", "data")


def data_dir_default() -> Path:
    """The data folder when neither an argument nor ``FMNIST_EDU_DATA`` names one.

    ``data/`` in a checkout, else ``~/.cache/fmnist_edu/data``: what ``--help`` shows.
    """
    root = project_root()
    return root / "data" if root else user_cache_dir() / "data"


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the results store: argument, ``FMNIST_EDU_CACHE``, ``_build/``, user cache."""
    return _resolve(explicit, CACHE_ENV, "_build/fmnist_edu_cache", "results")


def mirrors(explicit: str | None = None) -> tuple[str, ...]:
    """Resolve where to download the release: argument, ``FMNIST_EDU_MIRROR``, the official.

    A setting is one or more ``http://`` or ``https://`` folder URLs, separated by spaces
    or commas and tried in order, each serving the four ``.gz`` files under their official
    names (so a course can serve the release from its own host). Whatever a mirror
    serves is checked against the official MD5 sums, so a mirror can only serve the
    official files.

    Raises:
        ConfigError: naming the setting when a URL is not http(s).
    """
    source = "--mirror" if explicit else MIRROR_ENV
    text = explicit or os.environ.get(MIRROR_ENV) or ""
    urls = tuple(text.replace(",", " ").split())
    if not urls:
        return DEFAULT_MIRRORS
    for url in urls:
        if not url.lower().startswith(("http://", "https://")) or len(url.split("/")) < 3:
            raise ConfigError(
                f"{source}={url!r}: not an http:// or https:// URL of a folder serving the "
                "four .gz files"
            )
    return urls


def download_deadline(explicit: float | str | None = None) -> float:
    """Resolve the seconds one file may take: argument, ``FMNIST_EDU_DOWNLOAD_DEADLINE``,
    else 600.

    Raises:
        ConfigError: naming the setting when it is not a positive, finite number.
    """
    source = "--deadline" if explicit is not None else DEADLINE_ENV
    value = explicit if explicit is not None else os.environ.get(DEADLINE_ENV) or DEFAULT_DEADLINE
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise ConfigError(f"{source}={value!r}: not a positive number of seconds")
    return seconds


@dataclass(frozen=True)
class Profile:
    """How much compute the book's experiments spend.

    ``quick`` keeps a CI build of the whole book within minutes; ``full`` is what the
    published book uses.
    """

    name: str
    epochs: int
    seeds: tuple[int, ...]


PROFILES = {
    "quick": Profile("quick", epochs=3, seeds=(0, 1, 2)),
    "full": Profile("full", epochs=10, seeds=(0, 1, 2, 3, 4)),
}


def profile(name: str | None = None) -> Profile:
    """Return the named profile, else ``FMNIST_EDU_PROFILE``, else ``full``."""
    name = name or os.environ.get(PROFILE_ENV) or "full"
    if name not in PROFILES:
        raise ConfigError(
            f"{PROFILE_ENV}={name!r} is not a profile; choose one of {', '.join(PROFILES)}"
        )
    return PROFILES[name]


def trainer(explicit: str | None = None) -> str:
    """Resolve how seeds are trained: argument, ``FMNIST_EDU_TRAINER``, else ``"auto"``.

    See :data:`TRAINERS` and :func:`fmnist_edu.experiments.batches`.

    Raises:
        ConfigError: naming the setting when it is not one of :data:`TRAINERS`.
    """
    source = "trainer" if explicit is not None else TRAINER_ENV
    value = explicit if explicit is not None else os.environ.get(TRAINER_ENV) or "auto"
    if value not in TRAINERS:
        raise ConfigError(f"{source}={value!r}: choose one of {', '.join(TRAINERS)}")
    return value


def default_device() -> torch.device:
    """Return the GPU when one is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
