"""What a chapter needs to know about the book itself: its table of contents.

The Introduction's reading list is built from ``_toc.yml`` and each chapter's front
matter (its ``summary`` field), so it lists exactly the chapters that exist and never
promises a missing page.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from fmnist_edu import settings
from fmnist_edu.errors import FmnistEduError


@dataclass(frozen=True)
class Chapter:
    """One chapter as the table of contents and its own file describe it."""

    file: str  # relative to the book folder, without suffix, as in _toc.yml
    title: str  # the chapter's first level-1 heading
    summary: str  # the ``summary`` field of its front matter


def _front_matter_and_title(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    front: dict = {}
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if match:
        try:
            front = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise FmnistEduError(f"{path}: the front matter is not valid YAML ({exc})") from None
        text = text[match.end() :]
    heading = re.search(r"^# (.+)$", text, re.M)
    if heading is None:
        raise FmnistEduError(f"{path}: the chapter has no level-1 heading (# Title)")
    return front, heading.group(1).strip()


def chapters(toc: str | os.PathLike, caption: str = "Chapters") -> list[Chapter]:
    """Return the chapters listed under the part named ``caption`` in ``toc``, in order.

    Each file must exist beside the TOC (as ``.md``) and carry a ``summary`` in its front
    matter; otherwise :class:`~fmnist_edu.errors.FmnistEduError` names the file.
    """
    toc = Path(toc)
    spec = yaml.safe_load(toc.read_text(encoding="utf-8"))
    parts = [p for p in spec.get("parts", []) if p.get("caption") == caption]
    if not parts:
        raise FmnistEduError(f"{toc}: no part with caption {caption!r}")
    found = []
    for entry in parts[0].get("chapters", []):
        path = toc.parent / f"{entry['file']}.md"
        if not path.is_file():
            raise FmnistEduError(f"{toc}: lists {entry['file']!r}, but {path} does not exist")
        front, title = _front_matter_and_title(path)
        if not front.get("summary"):
            raise FmnistEduError(f"{path}: the front matter needs a one-line 'summary' field")
        found.append(Chapter(entry["file"], title, " ".join(str(front["summary"]).split())))
    return found


def book_toc() -> Path:
    """The checkout's ``_toc.yml``, wherever the caller runs (a notebook's folder may differ).

    Raises:
        FmnistEduError: outside a checkout, where the book's pages are not installed.
    """
    root = settings.project_root()
    if root is None or not (root / "book" / "_toc.yml").is_file():
        raise FmnistEduError(
            "the reading list needs the book's _toc.yml: run this page from a checkout"
        )
    return root / "book" / "_toc.yml"  # the link beside the pages


def reading_list(toc: str | os.PathLike | None = None, caption: str = "Chapters") -> str:
    """Return a numbered Markdown list linking every chapter, with its summary.

    ``toc`` defaults to the checkout's ``_toc.yml`` (:func:`book_toc`), so the page that
    shows the list runs in the book's build and as a notebook in any folder alike.
    """
    toc = book_toc() if toc is None else toc
    return "\n".join(
        f"{i}. [{c.title}]({c.file}.md): {c.summary}"
        for i, c in enumerate(chapters(toc, caption), start=1)
    )
