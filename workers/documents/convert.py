"""Turn a shared file (PDF, Word, PowerPoint, Excel, CSV, HTML, Markdown, text) into plain text.

Each format is read by its maintained library (pypdf, python-docx, python-pptx, openpyxl); the
deployment's limits (bytes, pages, characters) apply to all of them, and whatever a limit leaves
out becomes a note the person is shown with the answer.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath

from workers.requests import clean

log = logging.getLogger(__name__)

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What each format is called in notes, by file suffix and by media type.
SUFFIXES = {
    ".pdf": "pdf", ".docx": "docx", ".pptx": "pptx", ".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv",
    ".tsv": "csv", ".html": "html", ".htm": "html", ".md": "text", ".markdown": "text", ".txt": "text",
}  # fmt: skip
MEDIA_TYPES = {
    PDF: "pdf", DOCX: "docx", PPTX: "pptx", XLSX: "xlsx", "text/csv": "csv", "text/tab-separated-values": "csv",
    "text/html": "html", "text/markdown": "text", "text/plain": "text",
}  # fmt: skip
# Slack's own `filetype` names for the same formats.
SLACK_FILETYPES = {"pdf": "pdf", "docx": "docx", "pptx": "pptx", "xlsx": "xlsx", "csv": "csv", "html": "html"}


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of one document is read: its size in bytes, its pages (slides, sheets), its characters."""

    max_bytes: int = 20_000_000
    max_pages: int = 200
    max_chars: int = 400_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Converted:
    text: str
    # What was left out and why, in words for the person.
    notes: tuple[str, ...] = ()


class Unreadable(Exception):
    """The file could not be read at all; the message says why, for the person."""


def format_of(name: str, mime: str = "") -> str | None:
    """'pdf', 'docx', 'pptx', 'xlsx', 'csv', 'html' or 'text' for a file this module reads; else None."""
    by_suffix = SUFFIXES.get(PurePosixPath(name).suffix.lower())
    return by_suffix or MEDIA_TYPES.get(mime.split(";", maxsplit=1)[0].strip().lower())


def is_document(name: str, mime: str = "") -> bool:
    """An office document or PDF (binary formats the plain-text readers of the surfaces cannot read)."""
    return format_of(name, mime) in {"pdf", "docx", "pptx", "xlsx"}


def size_label(size: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def too_large(name: str, size: int, limit: int) -> str:
    return f"I did not read {name}: it is {size_label(size)}; the limit is {size_label(limit)}."


def convert(name: str, data: bytes, *, mime: str = "", limits: Limits = DEFAULT_LIMITS) -> Converted:
    """The document's text within `limits`, with notes on what was left out; `Unreadable` if none."""
    kind = format_of(name, mime)
    if kind is None:
        raise Unreadable(f"I can't read {name}: I read PDF, Word, PowerPoint, Excel, CSV, HTML and text files.")
    if len(data) > limits.max_bytes:
        raise Unreadable(too_large(name, len(data), limits.max_bytes))
    try:
        pages, total, unit = _READERS[kind](data, limits.max_pages)
        parts = list(pages)
    except Unreadable:
        raise
    except Exception as exc:  # a damaged or mislabelled file: each library fails in its own way
        log.info("could not convert %s (%s): %s", name, kind, exc)
        raise Unreadable(f"I could not read {name}: it looks damaged or is not really a {kind.upper()} file.") from None
    notes = []
    if total > limits.max_pages:
        notes.append(f"I read the first {limits.max_pages} of the {total} {unit} of {name}.")
    # NULs and lone surrogates (a PDF's text layer can hold both) could not be stored or sent on.
    text = clean("\n\n".join(part.strip() for part in parts if part.strip()))
    if not text:
        raise Unreadable(f"I found no text in {name} (a scan or an image-only file?).")
    if len(text) > limits.max_chars:
        notes.append(f"I read the first {limits.max_chars:,} of the {len(text):,} characters of {name}.")
        text = text[: limits.max_chars]
    return Converted(text=text, notes=tuple(notes))


# A reader yields the text of each page (slide, sheet) up to the page limit, with the total and its unit.
Reader = Callable[[bytes, int], tuple[Iterator[str], int, str]]


def _pdf(data: bytes, max_pages: int) -> tuple[Iterator[str], int, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise Unreadable("the PDF is protected by a password")
    pages = reader.pages
    total = len(pages)

    def text(number: int) -> str:
        found = pages[number].extract_text() or ""
        return f"[page {number + 1}]\n{found}" if found.strip() else ""

    return (text(n) for n in range(min(total, max_pages))), total, "pages"


def _docx(data: bytes, _max_pages: int) -> tuple[Iterator[str], int, str]:
    from docx import Document

    document = Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        lines += [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
    # Word files have no fixed pages; the character limit bounds them.
    return iter(["\n".join(lines)]), 1, "pages"


def _pptx(data: bytes, max_pages: int) -> tuple[Iterator[str], int, str]:
    from pptx import Presentation

    slides = list(Presentation(io.BytesIO(data)).slides)

    def text(number: int) -> str:
        lines = [f"[slide {number + 1}]"]
        for shape in slides[number].shapes:
            if getattr(shape, "has_text_frame", False):
                lines.append(shape.text_frame.text)
            if getattr(shape, "has_table", False):
                lines += [" | ".join(c.text for c in row.cells) for row in shape.table.rows]
        return "\n".join(lines)

    return (text(n) for n in range(min(len(slides), max_pages))), len(slides), "slides"


def _xlsx(data: bytes, max_pages: int) -> tuple[Iterator[str], int, str]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheets = book.worksheets

    def text(number: int) -> str:
        sheet = sheets[number]
        rows = (
            " | ".join("" if v is None else str(v) for v in row)
            for row in sheet.iter_rows(values_only=True)
            if any(v is not None for v in row)
        )
        return f"[sheet {sheet.title}]\n" + "\n".join(rows)

    return (text(n) for n in range(min(len(sheets), max_pages))), len(sheets), "sheets"


def _csv(data: bytes, _max_pages: int) -> tuple[Iterator[str], int, str]:
    decoded = data.decode("utf-8-sig", errors="replace")
    dialect = csv.excel_tab if decoded.count("\t") > decoded.count(",") else csv.excel
    rows = csv.reader(io.StringIO(decoded), dialect)
    return iter(["\n".join(" | ".join(row) for row in rows)]), 1, "pages"


class _Text(HTMLParser):
    """The visible text of an HTML page (the standard library's parser; scripts and styles left out)."""

    SKIP = frozenset({"script", "style", "noscript", "template"})
    BREAKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html(data: bytes, _max_pages: int) -> tuple[Iterator[str], int, str]:
    parser = _Text()
    parser.feed(data.decode("utf-8", errors="replace"))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return iter(["\n".join(line for line in lines if line)]), 1, "pages"


def _text(data: bytes, _max_pages: int) -> tuple[Iterator[str], int, str]:
    return iter([data.decode("utf-8-sig", errors="replace").replace("\x00", "")]), 1, "pages"


_READERS: dict[str, Reader] = {
    "pdf": _pdf, "docx": _docx, "pptx": _pptx, "xlsx": _xlsx, "csv": _csv, "html": _html, "text": _text,
}  # fmt: skip
