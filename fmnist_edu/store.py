"""The results store: trained weights and metrics, cached on disk under a content key.

An entry's key hashes three things: the experiment's configuration, a fingerprint of
the data it read, and the version of the training code (a hash of the source files
that decide what training produces). Change any of them and the key changes, so a
stale result is never served. Each entry is two files:

- ``<key>.pt``: the weights, loaded with ``weights_only=True``;
- ``<key>.json``: the metrics and the SHA-256 of the weights file.

Both are written to temporary files and renamed into place, JSON last, so a reader
sees a complete entry or none; they get the permissions the umask gives new files. A
damaged entry (JSON that does not parse, weights that do not match their recorded hash
or that ``torch.load`` refuses, or contents that a caller finds wrong, see
:meth:`ResultStore.set_aside`) is reported in one warning, moved into the ``damaged/``
subfolder, where it is kept but never read again, and treated as absent, so it is
recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from fmnist_edu import settings
from fmnist_edu.errors import StoreError

_CODE_FILES = (
    "data.py",
    "models.py",
    "training.py",
    "batched.py",
    "transforms.py",
    "permutation.py",
    "registry.py",
    "experiments/config.py",
    "experiments/stored.py",
    "experiments/runner.py",
)
DAMAGED = "damaged"
#: Age after which a temporary file of ours is a killed writer's leftover (a write takes
#: seconds), removed by :meth:`ResultStore.check_writable`.
STALE_S = 3600


def code_version() -> str:
    """Return a short hash of the source files whose change alters training results."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for name in _CODE_FILES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:12]


def atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` through ``write(binary_file)`` into a temporary file, then rename it:
    readers see the old file or the new one, never half of it; the umask is honoured."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.chmod(tmp, settings.new_file_mode())  # not mkstemp's 0600
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

    def _unusable(self, problem: str) -> StoreError:
        return StoreError(
            f"results store {self.root}: {problem}; set {settings.CACHE_ENV} to a folder you "
            "can write"
        )

    def check_writable(self) -> None:
        """Create the store folder and write a scratch file in it, so a store that cannot
        hold a result is found before training, not after. Also removes the temporary
        files that writers killed long ago (see :data:`STALE_S`) left behind.

        Raises:
            StoreError: naming the folder and ``FMNIST_EDU_CACHE`` when the folder cannot
                be created (a file is in the way, say) or written.
        """
        if self.root.exists() and not self.root.is_dir():
            raise self._unusable("is a file, not a folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root, prefix=".write-check-"):
                pass
        except OSError as exc:
            raise self._unusable(f"cannot be written ({exc.strerror or exc})") from None
        self._remove_stale()

    def _remove_stale(self) -> None:
        """Remove the temporary files of writers killed over :data:`STALE_S` seconds ago."""
        now = time.time()
        for tmp in [*self.root.glob(".*.json.*.tmp"), *self.root.glob(".*.pt.*.tmp")]:
            try:
                if now - tmp.stat().st_mtime > STALE_S:
                    tmp.unlink()
            except OSError:
                pass  # gone already, or not ours to remove: harmless

    def load(self, key: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
        """Return ``(metrics, state_dict)`` for ``key``, or ``None`` if absent or damaged.

        A damaged entry is set aside with a warning (see :meth:`set_aside`). The metrics
        are a dict and the state dict maps names to tensors; checking what they hold is
        the caller's job (see :mod:`fmnist_edu.experiments`).
        """
        meta_path, weights_path = self.root / f"{key}.json", self.root / f"{key}.pt"
        if not meta_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if not isinstance(meta, dict) or not isinstance(meta.get("metrics"), dict):
                raise ValueError("no metrics object in the JSON")
            if _sha256(weights_path) != meta.get("weights_sha256"):
                raise ValueError("the weights do not match their recorded SHA-256")
            state = torch.load(weights_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch.load of a bad file can raise almost anything
            self.set_aside(key, f"{type(exc).__name__}: {exc}")
            return None
        if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            self.set_aside(key, "the weights file does not hold a state dict of tensors")
            return None
        return meta["metrics"], state

    def set_aside(self, key: str, problem: str) -> None:
        """Report a damaged entry and move its files into ``damaged/``, out of the way.

        One warning names the entry's JSON file and the problem. The files are kept (as
        ``damaged/<key>-<time>.json`` and ``.pt``) for inspection, and the entry is
        then absent, so the next request recomputes it instead of failing again.
        """
        meta_path = self.root / f"{key}.json"
        problem = " ".join(problem.split())  # one line, whatever the exception said
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}"
        try:
            (self.root / DAMAGED).mkdir(exist_ok=True)
            for suffix in (".json", ".pt"):
                path = self.root / f"{key}{suffix}"
                if path.exists():
                    os.replace(path, self.root / DAMAGED / f"{key}-{stamp}{suffix}")
            where = f"moved to {self.root / DAMAGED}"
        except OSError as exc:
            where = f"could not be moved aside ({exc.strerror or exc})"
        warnings.warn(
            f"results store entry {meta_path} is damaged ({problem}); {where}; recomputing it",
            stacklevel=2,
        )

    def save(
        self,
        key: str,
        metrics: dict[str, Any],
        state: dict[str, torch.Tensor],
        run: dict[str, Any] | None = None,
    ) -> None:
        """Store an entry atomically: weights first, then the JSON that vouches for them.

        ``run``, when given, is kept beside the metrics as the entry's ``"run"`` record
        (the experiment's settings and its CPU seconds): never read back by :meth:`load`,
        it lets ``benchmarks/workload.py`` list what a build trained and what it cost.

        Raises:
            StoreError: when the files cannot be written.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            weights_path = self.root / f"{key}.pt"
            atomic_write(weights_path, lambda f: torch.save(state, f))
            meta = {"weights_sha256": _sha256(weights_path), "metrics": metrics}
            if run is not None:
                meta["run"] = run
            atomic_write(self.root / f"{key}.json", lambda f: f.write(json.dumps(meta).encode()))
        except OSError as exc:
            raise self._unusable(f"cannot store entry {key} ({exc.strerror or exc})") from None
