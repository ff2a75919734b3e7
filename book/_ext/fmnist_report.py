"""Sphinx extension: the ``fmnist-exec-report`` directive, the execution report's table.

Like myst-nb's ``nb-exec-table`` (a placeholder filled in after every page has been
executed), with what that table lacks: whether this build executed the page or took its
outputs from the execution cache, and the build fingerprint (code, data, profile) the
page was executed under, recorded by the ``fmnist_cache`` extension. The rows come from
:func:`fmnist_edu.report.rows`.

Also the ``fmnist-full-estimate`` directive: the committed estimate of a full build's
training time on the full release (``benchmarks/results/full_estimate.json``, written by
``benchmarks/full_estimate.py``), per chapter, through :func:`fmnist_edu.report.estimate_rows`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from docutils import nodes
from myst_nb.ext.execution_tables import METADATA_KEY
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.addnodes import pending_xref
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

from fmnist_edu import report, settings
from fmnist_edu.data import load as load_data
from fmnist_edu.errors import FmnistEduError

_STATE = {"start": time.time()}
HEADERS = ("Page", "This build", "Notebook run time (s)", "Outputs made", "Code · data · profile")


class ReportNode(nodes.General, nodes.Element):
    """Placeholder, replaced by the table once every page has been executed."""


class ExecReport(SphinxDirective):
    """Insert the execution report table."""

    def run(self) -> list[nodes.Node]:
        # myst-nb rewrites pages marked like this whenever a page is executed again.
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, METADATA_KEY, True)
        return [ReportNode()]


ESTIMATE = Path("benchmarks") / "results" / "full_estimate.json"


class FullEstimate(SphinxDirective):
    """The committed full-build estimate: a sentence and a table, or why there is none."""

    def run(self) -> list[nodes.Node]:
        path = Path(self.env.srcdir).parent / ESTIMATE
        self.env.note_dependency(str(path))
        try:
            estimate = json.loads(path.read_text())
            rows, headers = report.estimate_rows(estimate), report.estimate_headers(estimate)
            summary = report.estimate_summary(estimate)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return [nodes.paragraph(text=f"No full-build estimate could be read from "
                                         f"{ESTIMATE} ({type(exc).__name__}).")]  # fmt: skip
        return [nodes.paragraph(text=summary), _plain_table(headers, rows)]


def _plain_table(headers: tuple[str, ...], rows: list[tuple[nodes.Node | str, ...]]) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    group += [nodes.colspec(colwidth=1) for _ in headers]
    head, body = nodes.thead(), nodes.tbody()
    group += [head, body]
    head += nodes.row("", *[_cell(h) for h in headers])
    for row in rows:
        body += nodes.row("", *[_cell(c) for c in row])
    return table


def _cell(content: nodes.Node | str) -> nodes.entry:
    paragraph = nodes.paragraph()
    paragraph += nodes.Text(content) if isinstance(content, str) else content
    return nodes.entry("", paragraph)


def _table(docname: str, rows: list[report.Row]) -> list[nodes.Node]:
    cells = []
    for row in rows:
        link = pending_xref(
            refdoc=docname, reftarget="/" + row.page, reftype="doc", refdomain="std",
            refexplicit=False, refwarn=True,
        )  # fmt: skip
        link += nodes.inline(text=row.page)
        seconds = "-" if row.seconds is None else f"{row.seconds:.1f}"
        fp = row.fingerprint
        status = row.executed if row.succeeded else f"{row.executed} (failed)"
        # 8 hex digits tell builds apart; the chapters' boxes give the data's in full.
        cells.append((link, status, seconds, row.when,
                      f"{fp.code[:8]} · {fp.data[:8]} · {fp.profile}"))  # fmt: skip
    table = _plain_table(HEADERS, cells)
    now = sum(r.executed == "now" for r in rows)
    summary = nodes.paragraph(
        text=f"{len(rows)} executed pages: {now} executed by this build, "
        f"{len(rows) - now} taken from the execution cache; "
        f"{report.total_seconds(rows):.1f} s of notebook execution in all."
    )
    return [_data_sentence(), summary, table]


def _data_sentence() -> nodes.paragraph:
    """What this build read and with which profile, computed (never typed in the page)."""
    profile = settings.profile()
    try:
        dataset = load_data()
        data = report.data_extent(len(dataset.train), len(dataset.test))
    except FmnistEduError:
        data = "no data (pages that need it could not run)"
    return nodes.paragraph(
        text=f"This build read {data}, with the {profile.name} profile "
        f"({profile.epochs} epochs, {len(profile.seeds)} seeds per model)."
    )


def _book_order(env) -> list[str]:
    """Every page in the order of the book's table of contents (depth first)."""
    order: list[str] = []

    def walk(doc: str) -> None:
        if doc not in order:
            order.append(doc)
            for child in env.toctree_includes.get(doc, []):
                walk(child)

    walk(env.config.root_doc)
    return order


class ReportTransform(SphinxPostTransform):
    """Replace the placeholder with the table (before references are resolved)."""

    default_priority = 8

    def run(self, **kwargs) -> None:
        exec_data = {
            doc: data["exec_data"]
            for doc, data in NbMetadataCollector.get_doc_data(self.env).items()
            if data.get("exec_data")
        }
        fingerprints = getattr(self.env, "fmnist_fingerprints", {})
        rows = report.rows(exec_data, fingerprints, _STATE["start"], _book_order(self.env))
        for node in list(self.document.findall(ReportNode)):
            node.replace_self(_table(self.env.docname, rows))


def _start(app, config) -> None:
    _STATE["start"] = time.time()


def setup(app):
    app.add_node(ReportNode)
    app.add_directive("fmnist-exec-report", ExecReport)
    app.add_directive("fmnist-full-estimate", FullEstimate)
    app.add_post_transform(ReportTransform)
    app.connect("config-inited", _start)
    return {"version": "1.0", "parallel_read_safe": False}
