"""The engine simulator's embeddings: a hashed bag of words, deterministic and good enough to test with.

Each word (lower-case, a plural's final "s" dropped, mapped through the configured synonyms) adds ±1
to one of `dims` dimensions chosen by its hash. Texts sharing words point the same way; a synonym
mapped to the same word finds a passage that shares no word with the question, which full-text search
cannot. Common words are left out so that "what is the" does not make every text alike.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

_WORD = re.compile(r"[^\W_]+")
COMMON = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "had", "has", "have",
    "how", "i", "if", "in", "is", "it", "of", "on", "or", "our", "so", "that", "the", "their", "there", "this",
    "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
})  # fmt: skip


def word_key(word: str) -> str:
    word = word.lower()
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def embed(text: str, *, dims: int, synonyms: Mapping[str, str]) -> list[float]:
    vector = [0.0] * dims
    for raw in _WORD.findall(text):
        word = word_key(raw)
        if word in COMMON:
            continue
        word = synonyms.get(word, word)
        digest = hashlib.sha256(word.encode("utf-8")).digest()
        vector[int.from_bytes(digest[:4], "big") % dims] += 1.0 if digest[4] & 1 else -1.0
    return vector
