"""The in-browser engine of the live widgets: ONNX Runtime Web, pinned in ``tools/web``.

``npm ci --prefix tools/web`` installs ``onnxruntime-web`` from the lock file; the build
copies :data:`ENGINE_FILES` (single-threaded WebAssembly, no cross-origin isolation
needed) into ``_static/fmnist/ort`` of the built site. They are never committed: the
WebAssembly binary alone is about 14 MB.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fmnist_edu import settings
from fmnist_edu.errors import FmnistEduError

ENGINE_PACKAGE = "onnxruntime-web"
ENGINE_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
"""The engine's ES module and its WebAssembly runtime (the JavaScript glue and the binary)."""
INSTALL_HINT = "npm ci --prefix tools/web"


class EngineMissing(FmnistEduError):
    """The pinned engine is not installed, so the built site gets no live widgets."""


def default_modules() -> Path:
    """``tools/web/node_modules`` of this checkout (or of the current folder)."""
    root = settings.project_root() or Path.cwd()
    return root / "tools" / "web" / "node_modules"


def engine_dir(node_modules: str | Path | None = None) -> Path:
    """The folder holding :data:`ENGINE_FILES`.

    Raises:
        EngineMissing: naming the folder and the command that installs the engine.
    """
    modules = Path(node_modules) if node_modules is not None else default_modules()
    folder = modules / ENGINE_PACKAGE / "dist"
    missing = [name for name in ENGINE_FILES if not (folder / name).is_file()]
    if missing:
        raise EngineMissing(
            f"{folder}: no {missing[0]} (the in-browser engine is not installed; "
            f"run `{INSTALL_HINT}`)"
        )
    return folder


def engine_version(node_modules: str | Path | None = None) -> str:
    """The installed engine's version, read from its ``package.json``."""
    import json

    folder = engine_dir(node_modules)
    return str(json.loads((folder.parent / "package.json").read_text())["version"])


def copy_engine(target: str | Path, node_modules: str | Path | None = None) -> dict[str, int]:
    """Copy :data:`ENGINE_FILES` into ``target``; return each file's size in bytes.

    Raises:
        EngineMissing: when the engine is not installed (see :func:`engine_dir`).
    """
    source = engine_dir(node_modules)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name in ENGINE_FILES:
        shutil.copyfile(source / name, target / name)
        sizes[name] = (target / name).stat().st_size
    return sizes
