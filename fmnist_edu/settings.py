"""Where things live: the data folder, the results cache, the profile and the device.

Each setting follows the same order of precedence: an explicit argument, then an
environment variable, then a folder inside the project when running from a checkout,
then a per-user cache folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from fmnist_edu.errors import ConfigError

DATA_ENV = "FMNIST_EDU_DATA"
CACHE_ENV = "FMNIST_EDU_CACHE"
PROFILE_ENV = "FMNIST_EDU_PROFILE"
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


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the data folder: argument, ``FMNIST_EDU_DATA``, ``data/``, user cache."""
    return _resolve(explicit, DATA_ENV, "data", "data")


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the results store: argument, ``FMNIST_EDU_CACHE``, ``_build/``, user cache."""
    return _resolve(explicit, CACHE_ENV, "_build/fmnist_edu_cache", "results")


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


def default_device() -> torch.device:
    """Return the GPU when one is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
