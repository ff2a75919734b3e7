"""The book's execution cache re-executes a chapter when fmnist_edu's fingerprint changes.

Builds a one-page book with the project's Sphinx extension (book/_ext/fmnist_cache.py)
three times: cold (executes), warm (executes nothing), and with another profile, which
changes the build fingerprint (executes again).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PAGE = """---
jupytext:
  text_representation:
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# Page

```{code-cell} ipython3
print("executed")
```
"""


def _build(folder: Path, env: dict[str, str]) -> str:
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run(
        [str(jupyter_book), "build", str(folder / "book")],
        capture_output=True, text=True, env=env, cwd=folder, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def test_cache_is_keyed_on_the_build_fingerprint(tmp_path, subset_dir):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: cache\n"
        f"sphinx:\n  local_extensions:\n    fmnist_cache: {ROOT / 'book' / '_ext'}\n"
    )
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-article\nroot: page\n")
    (tmp_path / "book" / "page.md").write_text(PAGE)
    env = {**os.environ, "FMNIST_EDU_DATA": str(subset_dir), "FMNIST_EDU_PROFILE": "quick"}
    assert "Executing notebook" in _build(tmp_path, env)
    assert "Executing notebook" not in _build(tmp_path, env)
    html = (tmp_path / "_build" / "html" / "page.html").read_text()
    assert "executed" in html and "build fingerprint" not in html
    env["FMNIST_EDU_PROFILE"] = "full"
    assert "Executing notebook" in _build(tmp_path, env)
