"""Sphinx extension: wide boxes on a phone say that they scroll sideways.

On a phone a wide table, a long printed line or a long equation scrolls sideways inside
its box (``book/_static/fmnist.css``). The script ``static/fmnist-scroll.js``, added to
every page here, marks each box whose content is wider than the box, so that the CSS
writes "Scroll sideways for more" above it and a keyboard can reach it. It is added by this
extension rather than kept in ``book/_static``, where Jupyter Book would link any ``.js``
file (MathJax's included) into every page.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
SCRIPT = "fmnist-scroll.js"


def _add_static_path(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("config-inited", _add_static_path)
    app.add_js_file(SCRIPT, loading_method="defer")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
