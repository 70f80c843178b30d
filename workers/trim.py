"""Fit a prompt into the model's context window using the server's own token counts.

The system prompt and the new request always stay; the oldest turns go first. If the request alone
is still too long, its middle is cut (the start and the end of a pasted document carry the most).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.base import ChatMessage

CUT_MARK = "\n[…]\n"


@dataclass(frozen=True, slots=True)
class Fitted:
    messages: list[ChatMessage]
    prompt_tokens: int
    dropped: int
    truncated: bool


def fit(
    messages: Sequence[ChatMessage],
    *,
    budget: int,
    count_text: Callable[[str], int],
    count_prompt: Callable[[Sequence[ChatMessage]], int],
    per_message: int = 5,
) -> Fitted:
    if budget <= 0:
        raise ValueError("the context window leaves no room for a prompt")
    system, *history, last = messages
    sizes = [count_text(m.content) + per_message for m in history]
    fixed = count_text(system.content) + count_text(last.content) + 2 * per_message
    dropped = 0
    while history and fixed + sum(sizes) > budget:
        history.pop(0)
        sizes.pop(0)
        dropped += 1
    truncated = False
    if fixed > budget:
        last = _cut(last, count_text, budget - count_text(system.content) - 2 * per_message)
        truncated = True
    # The per-message estimate can miss the template's exact overhead: check the whole prompt and
    # keep dropping (or cutting) until the server's count fits.
    while True:
        kept = [system, *history, last]
        total = count_prompt(kept)
        if total <= budget:
            return Fitted(kept, total, dropped, truncated)
        if history:
            history.pop(0)
            dropped += 1
        else:
            shorter = _cut(last, count_text, count_text(last.content) - (total - budget) - 8)
            if shorter.content == last.content:
                return Fitted(kept, total, dropped, truncated)
            last, truncated = shorter, True


def _cut(message: ChatMessage, count_text: Callable[[str], int], target: int) -> ChatMessage:
    """Keep the start and end of a message so that it has at most `target` tokens."""
    text = message.content
    target = max(target, 16)
    if count_text(text) <= target:
        return message
    low, high = 0, len(text)
    best = CUT_MARK
    while low < high:
        keep = (low + high + 1) // 2
        head = keep * 2 // 3
        candidate = text[:head] + CUT_MARK + text[len(text) - (keep - head) :]
        if count_text(candidate) <= target:
            best, low = candidate, keep
        else:
            high = keep - 1
    return ChatMessage(message.role, best, message.images)
