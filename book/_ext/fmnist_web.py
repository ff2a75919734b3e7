"""Sphinx extension: the book's own models, live in the reader's browser (issue 19).

``fmnist-widget NAME``
    A directive placed after the static figure a widget makes live (NAME: one of
    :data:`WIDGETS`). It renders ``<div class="fmnist-widget" data-widget=NAME
    data-base=...>`` holding a one-line note that stays when the widget cannot run (no
    JavaScript, no WebAssembly, or no engine at build time). A page with widgets gets
    ``_static/fmnist/widgets.css`` and one module script that imports
    ``_static/fmnist/widgets.mjs`` by a URL relative to the page (``pathto``); that
    module mounts every widget of the page. Scripts are ``.mjs``: Jupyter Book adds every
    ``*.js`` under ``_static`` to every page as a classic script.

A page without page errors
    The widgets' browser checks fail on any page error, so the one every page of the book
    had is fixed here: sphinx-thebe's configuration script, added twice, declared
    ``const THEBE_JS_URL`` twice (:func:`unique_scripts`).

``fmnist-site-size``
    The execution report's table of what the widgets add to the site (engine, models,
    data, code), computed by this build.

Once every chapter has run (``env-updated``: the results store then holds the chapters'
models), :func:`fmnist_edu.web.assets.write_site_assets` copies the pinned engine from
``tools/web/node_modules`` and writes the models and the widgets' data into
``_static/fmnist``. Without the engine installed the build still succeeds: the widgets
that need it keep a note saying so. A model whose export disagrees with PyTorch fails
the build.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.errors import ExtensionError
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from fmnist_edu.errors import FmnistEduError

logger = logging.getLogger(__name__)

WIDGETS = ("predict", "shift", "arithmetic", "occlusion")
ENGINE_WIDGETS = ("predict", "shift", "occlusion")
"""The widgets that run the models in the browser (the arithmetic explorable needs none)."""
NOTE = (
    "The live version of this figure needs JavaScript and WebAssembly; "
    "the figure above shows the same result."
)
JS_NOTE = (
    "The live version of this figure needs JavaScript; the figure above shows the same result."
)
"""The note of a widget that runs no model (it needs no WebAssembly)."""
NO_ENGINE_NOTE = (
    "The live version of this figure is absent: its engine (onnxruntime-web) was not "
    "installed when this site was built; the figure above shows the same result."
)
BASE = "@@fmnist-base@@"
_STATE: dict = {"manifest": None}
_WIDGET_DIV = re.compile(
    r'(<div class="fmnist-widget" data-widget="(\w+)"[^>]*>\s*<p class="fmnist-widget-note">)'
    r"([^<]*)"
)


def widget_html(name: str) -> str:
    """The placeholder of widget ``name``: its div and one-line note (base URL filled later)."""
    return (
        f'<div class="fmnist-widget" data-widget="{name}" data-base="{BASE}">'
        f'<p class="fmnist-widget-note">{NOTE if name in ENGINE_WIDGETS else JS_NOTE}</p></div>'
    )


def fill_page(body: str, base: str, engine: bool) -> str:
    """A page's HTML with its widgets' asset URL ``base``, and, without the ``engine``, the
    note saying so in each widget that needs it."""
    body = body.replace(BASE, base)
    if engine:
        return body

    def note(match: re.Match) -> str:
        needs = match.group(2) in ENGINE_WIDGETS
        return match.group(1) + (NO_ENGINE_NOTE if needs else match.group(3))

    return _WIDGET_DIV.sub(note, body)


class Widget(SphinxDirective):
    """``fmnist-widget NAME``: a live widget, with its one-line fallback note."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        if name not in WIDGETS:
            raise self.error(f"fmnist-widget {name!r}: choose one of {', '.join(WIDGETS)}")
        return [nodes.raw("", widget_html(name), format="html")]


class SizeNode(nodes.General, nodes.Element):
    """Placeholder for the site-size table, filled once the widgets' files are written."""


class SiteSize(SphinxDirective):
    """``fmnist-site-size``: what the live widgets add to the site, in MB."""

    def run(self) -> list[nodes.Node]:
        self.env.note_reread()  # the sizes are this build's, so the page is always rebuilt
        return [SizeNode()]


def _size_table(rows: list[tuple[str, int]]) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto"])
    group = nodes.tgroup(cols=2)
    table += group
    group += [nodes.colspec(colwidth=1), nodes.colspec(colwidth=1)]
    head, body = nodes.thead(), nodes.tbody()
    group += [head, body]

    def row(*cells: str) -> nodes.row:
        return nodes.row("", *[nodes.entry("", nodes.paragraph(text=c)) for c in cells])

    head += row("What the live widgets add", "Size (MB)")
    for part, size in rows:
        body += row(part, f"{size / 1e6:.2f}")
    return table


class SizeTransform(SphinxPostTransform):
    """Replace the placeholder with the sizes this build wrote."""

    default_priority = 8

    def run(self, **kwargs) -> None:
        from fmnist_edu.web.assets import site_growth

        manifest = _STATE["manifest"]
        for node in list(self.document.findall(SizeNode)):
            if manifest is None:
                text = "This build wrote no widget files (not an HTML build)."
                node.replace_self(nodes.paragraph(text=text))
                continue
            parts: list[nodes.Node] = []
            if not manifest.get("engine"):
                parts.append(nodes.paragraph(text=manifest.get("engine_missing", NO_ENGINE_NOTE)))
            parts.append(_size_table(site_growth(manifest, _code_bytes(self.app))))
            node.replace_self(parts)


def _code_bytes(app) -> int:
    folder = Path(app.srcdir) / "_static" / "fmnist"
    return sum(p.stat().st_size for p in folder.glob("*") if p.suffix in (".mjs", ".css"))


def _write_assets(app, env) -> None:
    if app.builder.format != "html":
        return
    from fmnist_edu.web.assets import write_site_assets

    try:
        modules = app.config.fmnist_web_modules
        _STATE["manifest"] = manifest = write_site_assets(app.outdir, node_modules=modules)
    except FmnistEduError as error:
        raise ExtensionError(f"live widgets: {error}") from error
    if not manifest.get("engine"):
        logger.info(f"live widgets without their engine: {manifest['engine_missing']}")


FILE_NOTE = (
    "The live version of this figure cannot run in a page opened from a file: serve the "
    "site over http (e.g. python -m http.server -d _build/html); the figure above shows "
    "the same result."
)


def loader_script(loader: str) -> str:
    """The page's module script: import ``loader`` (widgets.mjs) and mount the widgets; a
    page opened from a file cannot import it, and its notes then say so."""
    return (
        f'import("{loader}").then((m) => m.mountAll(document)).catch((error) => {{\n'
        f'  if (location.protocol !== "file:") throw error;\n'
        f'  for (const n of document.querySelectorAll(".fmnist-widget-note")) '
        f"n.textContent = {FILE_NOTE!r};\n}});"
    )


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeated inline scripts: sphinx-thebe's configuration script,
    added twice to every page (once named ``None``, once ``""``), declares
    ``const THEBE_JS_URL`` twice, a page error in every browser."""
    seen, kept = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        key = (getattr(script, "filename", str(script)) or "", attributes.get("body"))
        if attributes.get("body") and key in seen:
            continue
        seen.add(key)
        kept.append(script)
    return kept


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    # Last of the page's handlers (sphinx-thebe adds its script in one of them), in place.
    if isinstance(context.get("script_files"), list):
        context["script_files"][:] = unique_scripts(context["script_files"])


def _page(app, pagename, templatename, context, doctree) -> None:
    body = context.get("body", "")
    if 'class="fmnist-widget"' not in body:
        return
    base = context["pathto"]("_static/fmnist/assets/manifest.json", 1).rsplit("/", 1)[0] + "/"
    context["body"] = fill_page(body, base, bool((_STATE["manifest"] or {}).get("engine")))
    loader = context["pathto"]("_static/fmnist/widgets.mjs", 1)
    if not loader.startswith((".", "/")):  # "_static/..." would be a bare module specifier
        loader = "./" + loader
    app.add_css_file("fmnist/widgets.css")
    app.add_js_file(None, type="module", body=loader_script(loader))


def setup(app):
    # The engine's npm folder; default: tools/web/node_modules of this checkout.
    app.add_config_value("fmnist_web_modules", None, "env")
    app.add_directive("fmnist-widget", Widget)
    app.add_directive("fmnist-site-size", SiteSize)
    app.add_node(SizeNode)
    app.add_post_transform(SizeTransform)
    app.connect("env-updated", _write_assets)
    app.connect("html-page-context", _page)
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": False}
