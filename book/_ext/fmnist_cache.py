"""Sphinx extension: keep the notebook execution cache honest about fmnist_edu and the data.

myst-nb's cache (jupyter-cache) keys a notebook on its cells' text only, and Sphinx
re-reads a page only when its file changes. Neither notices a new version of
``fmnist_edu``, another data folder or another profile. This extension:

- appends to every chapter a hidden code cell holding the build fingerprint (see
  :func:`fmnist_edu.provenance.build_fingerprint`), so the cache key changes with it;
- marks a page outdated when the fingerprint it was read with differs from the current
  one, so Sphinx reads (and myst-nb re-executes) it.
"""

from __future__ import annotations

import os
from pathlib import Path

from fmnist_edu import settings
from fmnist_edu.provenance import build_fingerprint

_STATE = {"fingerprint": ""}


def _init(app, config) -> None:
    # Notebooks run with book/ as their working directory: make relative folder settings
    # absolute (against where the build was started) before any kernel inherits them.
    for name in (settings.DATA_ENV, settings.CACHE_ENV):
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).expanduser().resolve())
    _STATE["fingerprint"] = build_fingerprint()


def _stamp(app, docname: str, source: list[str]) -> None:
    if "{code-cell}" not in source[0]:
        return
    fingerprint = _STATE["fingerprint"]
    source[0] += (
        "\n\n```{code-cell} ipython3\n:tags: [remove-cell]\n\n"
        f"# fmnist_edu build fingerprint: {fingerprint}\n```\n"
    )
    env = app.env
    if not hasattr(env, "fmnist_fingerprints"):
        env.fmnist_fingerprints = {}
    env.fmnist_fingerprints[docname] = fingerprint


def _outdated(app, env, added, changed, removed) -> list[str]:
    stamped = getattr(env, "fmnist_fingerprints", {})
    current = _STATE["fingerprint"]
    return [doc for doc, fp in stamped.items() if fp != current and doc not in removed]


def _purge(app, env, docname: str) -> None:
    getattr(env, "fmnist_fingerprints", {}).pop(docname, None)


def setup(app):
    app.connect("config-inited", _init)
    app.connect("source-read", _stamp)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    return {"version": "1.0", "parallel_read_safe": False, "env_version": 1}
