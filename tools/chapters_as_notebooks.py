"""Run every chapter as a plain notebook, outside the book's build, as a reader would.

Binder, Colab and plain Jupyter run a chapter without Jupyter Book: jupytext turns the
MyST Markdown into a notebook, and the kernel starts in whatever folder the reader is in.
This script does that for every page of the table of contents that holds code: it
converts each into a notebook in a fresh folder outside the checkout, runs it there with
nbclient (every hidden assert cell included), and fails with the page and the cell that
failed. `make test` runs it after the quick book, so the results store is warm and the
chapters mostly load what they need.

    python tools/chapters_as_notebooks.py            # every page with code
    python tools/chapters_as_notebooks.py dataset    # some pages
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbclient
import yaml

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT_S = 3600


def pages(toc: Path = ROOT / "_toc.yml") -> list[str]:
    """Every page of the table of contents, in order, that holds a code cell."""
    spec = yaml.safe_load(toc.read_text())
    files = [spec["root"]] + [c["file"] for p in spec["parts"] for c in p.get("chapters", [])]
    return [f for f in files if "```{code-cell}" in (ROOT / "book" / f"{f}.md").read_text()]


def run(page: str, folder: Path) -> float:
    """Convert ``page`` to a notebook in ``folder``, execute it there; return the seconds."""
    notebook = jupytext.read(ROOT / "book" / f"{page}.md")
    start = time.perf_counter()
    nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    jupytext.write(notebook, folder / f"{page}.ipynb")
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    # "dataset", "dataset.md" and "book/dataset.md" all name the same page.
    chosen = [Path(a).name.removesuffix(".md") for a in argv] or pages()
    unknown = [page for page in chosen if not (ROOT / "book" / f"{page}.md").is_file()]
    if unknown:
        print(f"error: no page {', '.join(unknown)} in {ROOT / 'book'}", file=sys.stderr)
        return 2
    os.environ.setdefault("FMNIST_EDU_PROFILE", "quick")
    failed = []
    with tempfile.TemporaryDirectory(prefix="fmnist-notebooks-") as tmp:
        for page in chosen:
            folder = Path(tmp) / page
            folder.mkdir()
            try:
                seconds = run(page, folder)
                print(f"ok    {page}.md as a notebook in {seconds:.0f} s", flush=True)
            except nbclient.exceptions.CellExecutionError as exc:
                text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # no terminal colours
                last = text.splitlines()[-1] if text else "error"
                print(f"FAIL  {page}.md as a notebook: {last}", flush=True)
                failed.append(page)
    print(f"{len(chosen) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
