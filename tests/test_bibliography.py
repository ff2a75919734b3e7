"""The bibliography's labels are author-year, as the chapters cite (book/_ext/fmnist_bib.py)."""

from __future__ import annotations

import sys

from conftest import ROOT
from pybtex.database import parse_string
from pybtex.plugin import find_plugin

sys.path.insert(0, str(ROOT / "book" / "_ext"))
import fmnist_bib  # noqa: E402

BIB = r"""
@misc{bronstein2021, author = {Bronstein, Michael M. and Bruna, Joan and Cohen, Taco
  and Veli{\v{c}}kovi{\'c}, Petar}, title = {Geometric deep learning}, year = {2021}}
@misc{velickovic2018, author = {Veli{\v{c}}kovi{\'c}, Petar}, title = {Graph attention},
  year = {2018}}
@misc{ioffe2015, author = {Ioffe, Sergey and Szegedy, Christian},
  title = {Batch normalization}, year = {2015}}
@misc{lecun1998a, author = {LeCun, Yann}, title = {Zeta}, year = {1998}}
@misc{lecun1998b, author = {LeCun, Yann}, title = {Alpha}, year = {1998}}
@misc{undated, author = {van der Berg, Ann}, title = {Notes}}
"""


def labels(bib: str) -> dict[str, str]:
    style = find_plugin("pybtex.style.formatting", fmnist_bib.NAME)()
    entries = parse_string(bib, "bibtex").entries.values()
    return {e.key: e.label for e in style.format_entries(entries)}


def test_labels_are_author_year_with_accents_decoded_and_shared_ones_lettered():
    got = labels(BIB)
    assert got["bronstein2021"] == "Bronstein et al., 2021"
    assert got["velickovic2018"] == "Veličković, 2018"
    assert got["ioffe2015"] == "Ioffe and Szegedy, 2015"
    # Same author and year: told apart by a letter, in the bibliography's order (by title).
    assert got["lecun1998b"] == "LeCun, 1998a" and got["lecun1998a"] == "LeCun, 1998b"
    assert got["undated"] == "van der Berg, n.d."


def test_the_book_configures_the_style_and_every_real_label_is_plain_text():
    config = (ROOT / "_config.yml").read_text()
    assert f"bibtex_default_style: {fmnist_bib.NAME}" in config
    got = labels((ROOT / "book" / "references.bib").read_text())
    assert got["bronstein2021geometric"] == "Bronstein et al., 2021"
    assert not [label for label in got.values() if "\\" in label or "{" in label]
