"""The phone layout check (tools/a11y/phone.mjs) finds what it is meant to, and only that.

Runs the check in Chromium on a small site written here: one page where everything fits or
scrolls, one where each kind of fault appears once. Skipped without Chromium or without
tools/a11y's npm packages (`make phone` installs them). The figures' metadata is tested
without a browser.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from fmnist_edu import plots

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHECK = ROOT / "tools" / "a11y" / "phone.mjs"
NODE_MODULES = ROOT / "tools" / "a11y" / "node_modules" / "playwright-core"
needs_browser = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and shutil.which("node") and NODE_MODULES.exists()),
    reason="needs Chromium, node and tools/a11y/node_modules (make phone installs them)",
)

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 0 }} .bd-article {{ padding: 0 20px }}
img {{ max-width: 100% }} figure {{ margin: 0 }}
.scroll {{ overflow-x: auto }} .cut {{ overflow-x: hidden }}</style></head>
<body><main><article class="bd-article"><section id="s"><h2>Section</h2>{body}</section>
</article></main></body></html>"""
WIDE_TABLE = '<table style="width: 600px"><tr><td>wide</td></tr></table>'


def figure(path: Path, font_pt: float) -> str:
    """A column-wide chart whose every text is ``font_pt``, as an <img> with its number."""
    fig = plots._figure(2.0)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=font_pt)
    ax.set_xlabel("label", fontsize=font_pt)
    path.write_bytes(fig.render("svg"))
    number = f'<span class="caption-number">Fig. {int(font_pt)} </span>'
    return f'<figure><img src="{path.name}" alt="f"><figcaption>{number}</figcaption></figure>'


def run_check(site: Path, *pages: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(CHECK), str(site), *pages],
        capture_output=True, text=True, timeout=300, env={**os.environ, "CHROMIUM": CHROMIUM},
    )  # fmt: skip


def test_rendered_figures_carry_their_smallest_font_and_dpi():
    fig = plots._figure(2.0, vector=False)
    fig.text(0.1, 0.5, "small", fontsize=7.5)
    fig.text(0.1, 0.2, "large", fontsize=14)
    assert b"fmnist-edu min_font_pt=7.5 dpi=200" in fig.render("png")
    assert "fmnist-edu min_font_pt=7.5 dpi=200" in fig.render("svg").decode()


@needs_browser
def test_the_check_flags_each_fault_by_page_and_passes_what_fits(tmp_path):
    (tmp_path / "index.html").write_text(PAGE.format(body="<p>home</p>"))
    good = [
        figure(tmp_path / "big.svg", 14),  # 14 pt at 350 / 433 of its width: 11 px
        f'<div class="scroll">{WIDE_TABLE}</div>',
        '<div class="scroll"><mjx-container><mjx-math style="display: inline-block; '
        'width: 700px">x</mjx-math></mjx-container></div>',
        "<pre>a short printed line</pre>",
    ]
    bad = [
        figure(tmp_path / "small.svg", 9),  # 9 pt: 7.3 px
        '<figure><img src="plain.svg" alt="p"></figure>',
        WIDE_TABLE,
        '<div class="cut"><mjx-container><mjx-math style="display: inline-block; '
        'width: 700px">y</mjx-math></mjx-container></div>',
        '<div class="cell_output"><pre style="overflow-x: hidden">' + "x" * 200 + "</pre></div>",
        '<script>fetch("http://example.org/x").catch(() => {})</script>',
    ]
    (tmp_path / "plain.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="500pt" height="50pt"></svg>'
    )
    (tmp_path / "good.html").write_text(PAGE.format(body="".join(good)))
    (tmp_path / "bad.html").write_text(PAGE.format(body="".join(bad)))

    passed = run_check(tmp_path, "good.html")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert re.search(r"article column at 390 px: 350 CSS px", passed.stdout)

    failed = run_check(tmp_path, "good.html", "bad.html")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    findings = [line for line in failed.stdout.splitlines() if line.startswith("FAIL")]
    assert all(line.startswith("FAIL bad.html: ") for line in findings), findings
    text = "\n".join(findings)
    assert re.search(r"figure Fig\. 9 .*smallest text 7\.\d CSS px", text), text
    assert "cannot be measured" in text
    assert re.search(r"table in section \"Section\": 600 px wide, beyond the 390 px screen", text)
    assert re.search(r"equation .*cut by div\.cut \(overflow-x hidden\)", text), text
    assert re.search(r"printed output .*content is cut at its own edge", text), text
    assert "requested http://example.org/x" in text
    assert len(findings) == 6, text


def test_a_notebook_shows_the_figures_with_their_metadata(monkeypatch):
    # A kernel's inline backend registers its own PNG printer for every Figure (which
    # would drop the metadata); BookFigure's more specific printers must win over it.
    from IPython.testing.globalipapp import start_ipython
    from matplotlib_inline.backend_inline import select_figure_formats

    shell = start_ipython()
    for mime in ("image/png", "image/svg+xml"):  # on in a kernel, off in this test shell
        monkeypatch.setattr(shell.display_formatter.formatters[mime], "enabled", True)
    plots._show_in_ipython()  # as importing plots in a kernel does
    select_figure_formats(shell, {"png"})  # what %matplotlib inline does in a kernel
    for vector in (False, True):
        fig = plots._figure(2.0, vector=vector)
        fig.add_subplot().plot([0, 1])
        data, _ = shell.display_formatter.format(fig)
        if vector:
            assert "image/png" not in data and "fmnist-edu min_font_pt=" in data["image/svg+xml"]
        else:
            assert b"fmnist-edu min_font_pt=" in data["image/png"]
            assert "image/svg+xml" not in data
