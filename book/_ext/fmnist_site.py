"""Sphinx extension: a site that works offline and passes axe-core's accessibility checks.

Offline math
    Sphinx loads MathJax from a CDN by default, so a downloaded copy of the book shows raw
    TeX. This extension points ``mathjax_path`` at ``_static/mathjax/tex-chtml.js`` and,
    after each HTML build, copies into the site the part of MathJax 3 that page can load:
    the TeX-to-HTML bundle, its web fonts, the TeX extensions it autoloads, the menu and
    accessibility components and the English speech rules (:data:`MATHJAX_FILES`, about
    3.5 MB; the whole MathJax tree is 24 MB). The files come from the pinned PyPI package
    ``sphinx-mathjax-offline`` (MathJax 3.2.2), which needs no Node.js at build time. They
    are copied into the build output, never into ``book/_static``: Jupyter Book links every
    ``*.js`` file found there into every page.

Accessible bibliography
    docutils writes a citation list as ``<div role="list">`` whose children carry the
    deprecated ``role="doc-biblioentry"``, which is not a list item: axe-core reports a
    critical ``aria-required-children`` violation. Each page's body is rewritten so that the
    entries are ``role="listitem"`` (:func:`fix_citation_roles`).

A colour mode on the first visit
    pydata-sphinx-theme reads the colour mode from the page's ``data-mode``, which Jupyter
    Book leaves empty until the reader picks one: every first visit logged "Got invalid
    theme mode" as a console error. A one-line script (:data:`DEFAULT_MODE_JS`) sets
    ``auto`` (follow the system), the mode the theme then falls back to, before the theme
    reads it. It is set there and not as the theme's ``default_mode``, which would also
    write ``data-theme="auto"`` into the HTML, a theme with no colours when JavaScript is off.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.ext.mathjax import MATHJAX_URL

MATHJAX_DIST = "sphinx-mathjax-offline"
MATHJAX_ENTRY = "tex-chtml.js"
MATHJAX_FILES = (
    MATHJAX_ENTRY,  # TeX input, CommonHTML output, menu, assistive MathML (MathJax 3.2.2)
    "output/chtml/fonts/woff-v2",  # the web fonts CommonHTML draws with
    "input/tex/extensions",  # TeX packages autoloaded on first use (\boldsymbol, \cancel...)
    "ui",  # the right-click menu's lazy parts
    "a11y",  # explorer, enrichment, speech: loaded when a reader turns them on in the menu
    "sre/mathmaps/base.json",  # speech rules (English only; other languages stay online)
    "sre/mathmaps/en.json",
)
"""The parts of MathJax copied into ``_static/mathjax``, relative to its ``es5`` root."""

_CITATION_ROLE = re.compile(r'(<div class="citation"[^>]*?) role="doc-biblioentry"')


def mathjax_source() -> Path:
    """The folder of MathJax files shipped by the ``sphinx-mathjax-offline`` package."""
    try:
        dist = metadata.distribution(MATHJAX_DIST)
    except metadata.PackageNotFoundError as error:
        raise ExtensionError(
            f"{MATHJAX_DIST} is not installed: run `pip install -r requirements.txt`"
        ) from error
    source = Path(str(dist.locate_file("sphinx-mathjax-offline/static/mathjax")))
    if not (source / MATHJAX_ENTRY).is_file():
        raise ExtensionError(f"no MathJax in {source}: reinstall {MATHJAX_DIST}")
    return source


def copy_mathjax(target: Path) -> int:
    """Copy :data:`MATHJAX_FILES` into ``target``; return the bytes copied."""
    source = mathjax_source()
    copied = 0
    for name in MATHJAX_FILES:
        path = source / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            destination = target / file.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, destination)
            copied += file.stat().st_size
    return copied


def fix_citation_roles(html: str) -> str:
    """Make the entries of docutils' ``role="list"`` citation lists ``role="listitem"``."""
    return _CITATION_ROLE.sub(r'\1 role="listitem"', html)


def _use_local_mathjax(app, config) -> None:
    if config.mathjax_path == MATHJAX_URL or "cdn.jsdelivr.net" in str(config.mathjax_path):
        config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"


def _check_mathjax(app) -> None:
    if app.builder.format == "html":
        mathjax_source()  # fail early, not after the whole build


def _page(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = fix_citation_roles(context["body"])


def _copy(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        copy_mathjax(Path(app.outdir) / "_static" / "mathjax")


DEFAULT_MODE_JS = (
    'if (!document.documentElement.dataset.mode) document.documentElement.dataset.mode = "auto";'
)


def setup(app):
    app.add_js_file(None, body=DEFAULT_MODE_JS)
    app.connect("config-inited", _use_local_mathjax)
    app.connect("builder-inited", _check_mathjax)
    app.connect("html-page-context", _page)
    app.connect("build-finished", _copy)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
