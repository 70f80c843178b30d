"""Split a document's text into passages small enough to search and to quote in a prompt.

Paragraphs are packed together up to `size` characters; a longer paragraph is cut at sentence ends,
and a sentence longer still at `size`. A passage never starts or ends inside a word when avoidable.
"""

from __future__ import annotations

import re

# About 150 tokens: five passages fit even the embedded model's small window beside the conversation.
CHUNK_CHARS = 600
_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCES = re.compile(r"(?<=[.!?])\s+")


def split(text: str, *, size: int = CHUNK_CHARS) -> list[str]:
    pieces: list[str] = []
    for raw in _PARAGRAPHS.split(text):
        paragraph = raw.strip()
        if not paragraph:
            continue
        if len(paragraph) <= size:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCES.split(paragraph):
            pieces += _hard(sentence.strip(), size)
    return _packed(pieces, size)


def _hard(sentence: str, size: int) -> list[str]:
    out = []
    while len(sentence) > size:
        cut = sentence.rfind(" ", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return out + ([sentence] if sentence else [])


def _packed(pieces: list[str], size: int) -> list[str]:
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        joined = f"{current}\n\n{piece}" if current else piece
        if len(joined) <= size:
            current = joined
            continue
        if current:
            chunks.append(current)
        current = piece
    if current:
        chunks.append(current)
    return chunks
