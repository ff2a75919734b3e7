"""Sphinx extension: author-year labels in the bibliography, as the text cites.

The chapters cite author-year (``bibtex_reference_style: author_year``: "Bronstein et al.
(2021)"), but pybtex's default labels are alpha codes built from the raw BibTeX, so the
reference list showed "[BBCVelivckovic21]" (the LaTeX accent of Veli{\\v{c}}kovi{\\'c}
spelled out). This extension registers the pybtex formatting style ``fmnist_author_year``
(pybtex's ``unsrt`` entries, sorted by author, year and title) with the label style
``fmnist_author_year``: "Bronstein et al., 2021", "Ioffe and Szegedy, 2015", "LeCun, 1998",
with "a", "b" added when two entries would share a label, and LaTeX accents decoded.
``_config.yml`` makes it the default (``bibtex_default_style``).
"""

from __future__ import annotations

import codecs
import re
from collections import Counter

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

NAME = "fmnist_author_year"


def _plain(latex: str) -> str:
    """``Veli{\\v{c}}kovi{\\'c}`` -> ``Veličković``: decode LaTeX, drop braces."""
    text = codecs.decode(latex, "ulatex") if "\\" in latex else latex
    return re.sub(r"[{}]", "", text).strip()


def _surname(person) -> str:
    return _plain(" ".join(person.prelast_names + person.last_names))


def author_year(entry) -> str:
    """The label of one entry without its disambiguating letter: "Surname et al., 2021"."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in persons]
    if not names:
        who = _plain(entry.fields.get("organization", "") or entry.fields.get("title", "?"))
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {_plain(entry.fields.get('year', 'n.d.'))}"


class AuthorYearLabels(BaseLabelStyle):
    """Labels "Surname, 2021", "A and B, 2015", "A et al., 2021" (then 2021a, 2021b)."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        shared = {label for label, n in Counter(labels).items() if n > 1}
        used: Counter = Counter()
        for label in labels:
            if label in shared:
                letter = chr(ord("a") + used[label])
                used[label] += 1
                yield label + letter
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` entries with author-year labels, sorted by author, year, title."""

    default_label_style = NAME
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", NAME, AuthorYearLabels)
register_plugin("pybtex.style.formatting", NAME, AuthorYearStyle)


def setup(app):
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
