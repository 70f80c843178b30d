"""Fit a prompt into the model's context window using the server's own token counts.

The system prompt and the new request always stay; the oldest turns go first. If the request alone
is still too long, its middle is cut (the start and the end of a pasted document carry the most).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from engine.base import ChatMessage

CUT_MARK = "\n[…]\n"
# Chat-template tokens around one message (role markers, separators), generously.
TEMPLATE_PER_MESSAGE = 8
TEMPLATE_FIXED = 16


def slack(budget: int) -> int:
    """Room kept free when a bound uses exact counts of the texts: a chat template may add text of its own
    (a date line in the system message) that the generous per-message allowance does not cover."""
    return 64 + budget // 20


@dataclass(frozen=True, slots=True)
class Fitted:
    messages: list[ChatMessage]
    # The server's count, or None when the prompt plainly fit and nothing was counted.
    prompt_tokens: int | None
    dropped: int
    truncated: bool


Known = Callable[[str], int | None]


def upper_bound(messages: Sequence[ChatMessage], known: Known = lambda _text: None) -> int | None:
    """Tokens the prompt can take at most, without asking the server: a text's count where this process
    has it already (`known`: the earlier turns of a conversation), else its bytes (a byte-level
    tokenizer's token is at least one byte). None when a message carries images, whose cost only the
    server knows."""
    if any(m.images for m in messages):
        return None
    text = 0
    for message in messages:
        counted = known(message.content)
        text += len(message.content.encode("utf-8")) if counted is None else counted
    return text + TEMPLATE_PER_MESSAGE * len(messages) + TEMPLATE_FIXED


def fit(
    messages: Sequence[ChatMessage],
    *,
    budget: int,
    count_text: Callable[[str], int],
    count_prompt: Callable[[Sequence[ChatMessage]], int],
    per_message: int = 5,
    known: Known = lambda _text: None,
) -> Fitted:
    if budget <= 0:
        raise ValueError("the context window leaves no room for a prompt")
    if _plainly_fits(messages, budget, known):
        # The usual turn: it fits whatever the tokenizer, so no round trip to the server's.
        return Fitted(list(messages), None, 0, False)
    system, *history, last = messages
    sizes = [count_text(m.content) + per_message for m in history]
    fixed = count_text(system.content) + count_text(last.content) + 2 * per_message
    dropped = 0
    while history and fixed + sum(sizes) > budget:
        history.pop(0)
        sizes.pop(0)
        dropped += 1
        dropped += _orphans(history, sizes)
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
            dropped += 1 + _orphans(history, [])
        else:
            shorter = _cut(last, count_text, count_text(last.content) - (total - budget) - 8)
            if shorter.content == last.content:
                return Fitted(kept, total, dropped, truncated)
            last, truncated = shorter, True


def _plainly_fits(messages: Sequence[ChatMessage], budget: int, known: Known) -> bool:
    """By bytes alone; or, for a conversation whose earlier turns were counted, by those counts with slack."""
    by_bytes = upper_bound(messages)
    if by_bytes is None or by_bytes <= budget:
        return by_bytes is not None
    by_counts = upper_bound(messages, known)
    return by_counts is not None and by_counts < by_bytes and by_counts <= budget - slack(budget)


def _orphans(history: list[ChatMessage], sizes: list[int]) -> int:
    """Drop tool results whose calling turn was just dropped: a server refuses a result without its call."""
    gone = 0
    while history and history[0].role == "tool":
        history.pop(0)
        if sizes:
            sizes.pop(0)
        gone += 1
    return gone


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
    return replace(message, content=best)
