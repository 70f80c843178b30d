"""Files on a message: text files and documents are read into the context, images go to vision-capable models.

Each limit that leaves something out becomes a notice the answer shows, so the user knows what the
assistant did not see and why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import discord

from workers.documents.convert import DEFAULT_LIMITS, Limits, Unreadable, convert, is_document
from workers.events import Attachment
from workers.prompt import MAX_ATTACHMENT_CHARS

log = logging.getLogger(__name__)

TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/javascript",
    "application/x-sh",
    "application/sql",
}
TEXT_SUFFIXES = {
    ".txt", ".md", ".rst", ".csv", ".tsv", ".log", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf",
    ".py", ".js", ".ts", ".tsx", ".jsx", ".java", ".kt", ".go", ".rs", ".c", ".h", ".cpp", ".hpp", ".cs",
    ".rb", ".php", ".sh", ".sql", ".html", ".css", ".xml", ".swift", ".lua", ".r", ".tex",
}  # fmt: skip
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@dataclass
class Collected:
    files: list[Attachment] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _kb(size: int) -> str:
    return f"{size / 1000:,.0f} KB" if size < 1_000_000 else f"{size / 1_000_000:,.1f} MB"


def is_text(item: discord.Attachment) -> bool:
    mime = (item.content_type or "").split(";")[0].strip().lower()
    return (
        mime.startswith("text/") or mime in TEXT_TYPES or PurePosixPath(item.filename).suffix.lower() in TEXT_SUFFIXES
    )


async def _download(item: discord.Attachment, *, max_bytes: int, what: str, out: Collected) -> bytes | None:
    """The attachment's bytes, or None with a notice saying why not (too large for `what`, or not downloaded)."""
    if item.size > max_bytes:
        out.notices.append(f"I did not read {item.filename} ({_kb(item.size)}): {what} up to {_kb(max_bytes)}.")
        return None
    try:
        return await item.read()
    except discord.HTTPException as exc:
        log.warning("could not download attachment %s: %s", item.filename, exc)
        out.notices.append(f"I could not download {item.filename}; please attach it again.")
        return None


async def _read_text(item: discord.Attachment, *, max_bytes: int, out: Collected) -> None:
    data = await _download(item, max_bytes=max_bytes, what="text files", out=out)
    if data is None:
        return
    if b"\x00" in data[:4096]:
        out.notices.append(f"I did not read {item.filename}: it is not a text file.")
        return
    text = data.decode("utf-8", errors="replace")
    if len(text) > MAX_ATTACHMENT_CHARS:
        out.notices.append(f"I read only the first {MAX_ATTACHMENT_CHARS:,} characters of {item.filename}.")
        text = text[:MAX_ATTACHMENT_CHARS]
    mime = (item.content_type or "text/plain").split(";")[0]
    out.files.append(Attachment(name=item.filename, mime_type=mime, size=item.size, text=text, url=item.url))


async def _read_document(item: discord.Attachment, *, limits: Limits, out: Collected) -> None:
    """A PDF or office file converted to text (off the event loop: conversion is CPU work)."""
    data = await _download(item, max_bytes=limits.max_bytes, what="documents", out=out)
    if data is None:
        return
    mime = (item.content_type or "").split(";")[0].strip().lower()
    try:
        converted = await asyncio.to_thread(convert, item.filename, data, mime=mime, limits=limits)
    except Unreadable as exc:
        out.notices.append(str(exc))
        return
    out.notices.extend(converted.notes)
    out.files.append(
        Attachment(
            name=item.filename, mime_type=mime or "application/octet-stream", size=item.size, text=converted.text
        )
    )


async def collect(
    items: Sequence[discord.Attachment],
    *,
    max_text_bytes: int,
    max_image_bytes: int,
    max_images: int,
    documents: Limits = DEFAULT_LIMITS,
) -> Collected:
    out = Collected()
    images = 0
    for item in items:
        mime = (item.content_type or "").split(";")[0].strip().lower()
        if mime in IMAGE_TYPES:
            if item.size > max_image_bytes:
                out.notices.append(
                    f"I did not look at {item.filename} ({_kb(item.size)}): images up to {_kb(max_image_bytes)}."
                )
            elif images >= max_images:
                out.notices.append(f"I looked at the first {max_images} image(s) only.")
            else:
                images += 1
                out.files.append(
                    Attachment(name=item.filename, mime_type=mime, size=item.size, url=item.url, image=item.url)
                )
        elif is_document(item.filename, mime):
            await _read_document(item, limits=documents, out=out)
        elif is_text(item):
            await _read_text(item, max_bytes=max_text_bytes, out=out)
        else:
            out.notices.append(
                f"I cannot read {item.filename} ({mime or 'unknown type'}): I read PDF, Word, PowerPoint and "
                "Excel files, text files and images."
            )
    # One notice per limit is enough.
    out.notices = list(dict.fromkeys(out.notices))
    return out
