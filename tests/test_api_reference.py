"""The API reference page documents every module of the package."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import fmnist_edu

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_has_a_section_in_the_api_page():
    page = (ROOT / "book" / "api.md").read_text()
    modules = {m.name for m in pkgutil.walk_packages(fmnist_edu.__path__, "fmnist_edu.")}
    missing = {m for m in modules if f".. automodule:: {m}\n" not in page}
    assert not missing - {"fmnist_edu.__main__"}, f"add these to book/api.md: {sorted(missing)}"
