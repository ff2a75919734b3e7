"""The Introduction's reading list comes from the table of contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmnist_edu import book
from fmnist_edu.errors import FmnistEduError

ROOT = Path(__file__).resolve().parent.parent


def _chapter(folder: Path, name: str, summary: str | None, title: str = "A title") -> None:
    front = f"---\nkernelspec:\n  name: python3\nsummary: {summary}\n---\n" if summary else ""
    (folder / f"{name}.md").write_text(f"{front}\n(label)=\n# {title}\n\nText.\n# Not this\n")


def _toc(folder: Path, *files: str) -> Path:
    entries = "".join(f"      - file: {f}\n" for f in files)
    path = folder / "_toc.yml"
    head = "format: jb-book\nroot: intro\nparts:\n  - caption: Chapters\n    chapters:\n"
    path.write_text(head + entries + "  - caption: Reference\n    chapters: []\n")
    return path


def test_reading_list_follows_the_toc(tmp_path):
    _chapter(tmp_path, "b", "Second in the TOC.", "Bee")
    _chapter(tmp_path, "a", "First in the TOC,\n  folded.", "Ay")
    listing = book.reading_list(_toc(tmp_path, "a", "b"))
    assert listing.splitlines() == [
        "1. [Ay](a.md): First in the TOC, folded.",
        "2. [Bee](b.md): Second in the TOC.",
    ]


def test_a_missing_page_or_summary_is_an_error(tmp_path):
    with pytest.raises(FmnistEduError, match="'gone'.*does not exist"):
        book.chapters(_toc(tmp_path, "gone"))
    _chapter(tmp_path, "bare", None)
    with pytest.raises(FmnistEduError, match="bare.md: the front matter needs"):
        book.chapters(_toc(tmp_path, "bare"))


def test_the_real_book_lists_every_chapter_file():
    chapters = book.chapters(ROOT / "book" / "_toc.yml")
    assert [c.file for c in chapters][:3] == ["dataset", "inductive_bias", "architectures"]
    assert all(c.summary and c.title for c in chapters)


def test_the_reading_list_finds_the_books_toc_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a notebook opened outside book/ (Binder, Colab)
    assert book.reading_list().startswith("1. [")
    assert book.book_toc() == ROOT / "book" / "_toc.yml"
