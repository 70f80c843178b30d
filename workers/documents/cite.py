"""Knowledge in the prompt and in the answer: numbered passages before the question, a sources line after.

The passages go into the new user turn, after the system prompt and the conversation, so the stable
prefix (system prompt, earlier turns) stays the same from turn to turn and vLLM's prefix cache keeps
serving it; only the passages and the question are new.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from db.knowledge import Found

INSTRUCTION = (
    "Passages from this channel's documents. Answer from them when they hold the answer, and cite each "
    "passage you use by its number in brackets, like [1]. If they do not hold it, say so."
)
_CITED = re.compile(r"\[(\d{1,2})\]")


def capped(found: Sequence[Found], budget: int, count: Callable[[str], int]) -> list[Found]:
    """The best passages that fit in `budget` tokens together (a passage that does not fit is skipped)."""
    kept: list[Found] = []
    for passage in found:
        cost = count(passage.content) + 8
        if cost > budget:
            continue
        budget -= cost
        kept.append(passage)
    return kept


def block(found: Sequence[Found]) -> str:
    if not found:
        return ""
    lines = [INSTRUCTION, ""]
    for number, passage in enumerate(found, start=1):
        lines.append(f"[{number}] ({passage.document})\n{passage.content}\n")
    return "\n".join(lines)


def with_question(found: Sequence[Found], question: str) -> str:
    """The user turn: the passages, then the question."""
    passages = block(found)
    return f"{passages}\nQuestion: {question}" if passages else question


def sources_line(found: Sequence[Found], answer: str) -> str:
    """'Sources: [1] handbook.pdf · [3] prices.xlsx' for the passages the answer cites; where it cites
    none, the documents the passages came from, so the person still sees what was consulted."""
    if not found:
        return ""
    cited = sorted({int(n) for n in _CITED.findall(answer) if 1 <= int(n) <= len(found)})
    if cited:
        return "Sources: " + " · ".join(f"[{n}] {found[n - 1].document}" for n in cited)
    return "Sources consulted: " + ", ".join(dict.fromkeys(p.document for p in found))
