"""Discord's text rules: 2000 characters a message, and code blocks that survive being split.

A long answer becomes several messages. A split inside a code block closes the fence at the end of
one part and reopens it (with its language) at the start of the next, so every part renders as code.
Splitting is greedy by lines from the start, so the parts already sent stay as they are while the
answer grows; only the last part changes.
"""

from __future__ import annotations

import re

LIMIT = 2000
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")


def _pieces(text: str, size: int) -> list[str]:
    """Lines with their newline; a line longer than `size` is cut at a space where one is near."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        rest = line
        while len(rest) > size:
            cut = rest.rfind(" ", size // 2, size)
            cut = cut + 1 if cut > 0 else size
            out.append(rest[:cut])
            rest = rest[cut:]
        out.append(rest)
    return out


def _fence_after(fence: str | None, piece: str) -> str | None:
    """The open fence (its opening line) after `piece`, given the one open before it."""
    match = _FENCE.match(piece.rstrip("\n"))
    if match is None:
        return fence
    marker, info = match.group(1), match.group(2).strip()
    if fence is None:
        return piece.strip()
    opener = _FENCE.match(fence)
    assert opener is not None
    if marker.startswith(opener.group(1)[0] * len(opener.group(1))) and not info:
        return None
    return fence


def _closing(fence: str, body: str) -> str:
    opener = _FENCE.match(fence)
    assert opener is not None
    return ("" if body.endswith("\n") else "\n") + opener.group(1)


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Parts of at most `limit` characters, each with balanced code fences; [] for blank text."""
    if not text.strip():
        return []
    parts: list[str] = []
    current, fence = "", None
    for piece in _pieces(text, limit // 2 - 16):
        after = _fence_after(fence, piece)
        tail = len(_closing(after, current + piece)) if after else 0
        if current.strip() and len(current) + len(piece) + tail > limit:
            parts.append(current + _closing(fence, current) if fence else current)
            current = fence + "\n" if fence else ""
        current += piece
        fence = after
    if current.strip():
        parts.append(current + _closing(fence, current) if fence else current)
    return [part.strip("\n") for part in parts if part.strip()]


def strip_mentions(text: str, ids: set[int]) -> str:
    """Remove mentions of the bot (user or managed role) from the start or anywhere in the text."""
    for ident in ids:
        text = re.sub(rf"<@[!&]?{ident}>", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
