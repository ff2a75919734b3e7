"""Optional dependencies: which extra brings each one, and a one-line error when it is missing.

``pip install fmnist-edu`` brings what training needs (torch, numpy, tqdm). The rest comes
with extras, e.g. ``pip install "fmnist-edu[interpret]"``; ``[all]`` brings every one
the command line uses, ``[book]`` what building the book needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fmnist_edu.errors import FmnistEduError

#: The extra that brings each optional top-level module.
EXTRA_OF = {
    "matplotlib": "plots",
    "captum": "interpret",
    "scipy": "interpret",
    "dask": "grid",
    "distributed": "grid",
    "sklearn": "beyond",
    "starlette": "serve",
    "uvicorn": "serve",
    "httptools": "serve",
    "httpx": "serve",
    "onnx": "serve",
    "onnxscript": "serve",
    "onnxruntime": "serve",
    "jupyter_book": "book",
    "myst_nb": "book",
}


class MissingDependency(FmnistEduError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def message(module: str, purpose: str) -> str:
    """One line: what needs ``module``, and the pip command that installs it."""
    top = module.split(".")[0]
    extra = EXTRA_OF.get(top)
    how = f'pip install "fmnist-edu[{extra}]"' if extra else f"pip install {top}"
    return f"{purpose} needs {top}, which is not installed: {how} (or [all])"


def missing(exc: ImportError, purpose: str) -> MissingDependency:
    """Turn an ``ImportError`` of an optional module into a :class:`MissingDependency`."""
    return MissingDependency(message(exc.name or str(exc), purpose))


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingDependency` naming the extra to install.

    Args:
        module: e.g. ``"captum.attr"``.
        purpose: what needs it, for the message, e.g. ``"fmnist-edu explain"``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the module exists but one of its own dependencies is broken
        raise missing(exc, purpose) from None
