"""The results store: trained weights and metrics, cached on disk under a content key.

An entry's key hashes three things: the experiment's configuration, a fingerprint of
the data it read, and the version of the training code (a hash of the source files
that decide what training produces). Change any of them and the key changes, so a
stale result is never served. Each entry is two files:

- ``<key>.pt``: the weights, loaded with ``weights_only=True``;
- ``<key>.json``: the metrics and the SHA-256 of the weights file.

Both are written to temporary files and renamed into place, JSON last, so a reader
sees a complete entry or none. An entry whose JSON does not parse or whose weights do
not match their recorded hash is treated as absent and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from fmnist_edu import settings

_CODE_FILES = ("data.py", "models.py", "training.py", "experiments.py")


def code_version() -> str:
    """Return a short hash of the source files whose change alters training results."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for name in _CODE_FILES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:12]


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class ResultStore:
    """A folder of cached experiment results (default: :func:`settings.cache_dir`)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = settings.cache_dir(root)

    def key(self, config: dict[str, Any], data_fingerprint: str) -> str:
        """Return the entry key for a configuration, data fingerprint and code version."""
        blob = json.dumps(
            {"config": config, "data": data_fingerprint, "code": code_version()}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def load(self, key: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
        """Return ``(metrics, state_dict)`` for ``key``, or ``None`` if absent or damaged."""
        meta_path, weights_path = self.root / f"{key}.json", self.root / f"{key}.pt"
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if _sha256(weights_path) != meta["weights_sha256"]:
                raise ValueError("the weights do not match their recorded SHA-256")
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            warnings.warn(
                f"results store entry {meta_path} is damaged ({exc}); recomputing it",
                stacklevel=2,
            )
            return None
        return meta["metrics"], state

    def save(self, key: str, metrics: dict[str, Any], state: dict[str, torch.Tensor]) -> None:
        """Store an entry atomically: weights first, then the JSON that vouches for them."""
        self.root.mkdir(parents=True, exist_ok=True)
        weights_path = self.root / f"{key}.pt"
        _atomic_write(weights_path, lambda f: torch.save(state, f))
        meta = {"weights_sha256": _sha256(weights_path), "metrics": metrics}
        _atomic_write(self.root / f"{key}.json", lambda f: f.write(json.dumps(meta).encode()))
