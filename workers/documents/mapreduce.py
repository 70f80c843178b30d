"""Read a document too long for the model's window in parts (map), then answer from the notes (reduce).

Each part is one engine call with the question, sized so that its prompt and its notes fit in the
window; the notes of all parts replace the document in the final prompt, and if they are still too
long they are read in parts the same way. The calls run inside the event's own scheduler slot, one
after another, and their tokens are added to the event's usage like the answer's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from engine.base import ChatMessage, ChatRequest, Engine, complete
from workers.events import Attachment

log = logging.getLogger(__name__)

READER = (
    "You are reading one part of a long document for someone. Write short notes of everything in this part "
    "that bears on their request: facts, figures, names, conclusions. Write nothing else."
)
# Rounds of reading notes in parts before they are cut to fit (each round shrinks them many times).
MAX_ROUNDS = 4
# Tokens a part's chat template and framing may take beyond the counted text.
FRAMING = 48


@dataclass(frozen=True, slots=True)
class Reading:
    """How a read goes: the engine, the request's shape, and where progress is shown."""

    engine: Engine
    base: ChatRequest
    window: int
    note_tokens: int
    status: Callable[[str], None] | None = None


@dataclass
class Spent:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0


def fit_attachments(
    attachments: Sequence[Attachment], *, question: str, budget: int, reading: Reading, spent: Spent
) -> tuple[Attachment, ...]:
    """The attachments with every text too long for `budget` tokens (together) replaced by notes."""
    count = _counter(reading)
    sizes = [count(a.text) if a.text else 0 for a in attachments]
    if sum(sizes) <= budget:
        return tuple(attachments)
    share = max(budget // max(1, sum(1 for s in sizes if s)), 64)
    out = []
    for item, size in zip(attachments, sizes, strict=True):
        if item.text and size > share:
            notes = condense(item.name, item.text, question=question, budget=share, reading=reading, spent=spent)
            out.append(replace(item, text=notes))
        else:
            out.append(item)
    return tuple(out)


def condense(name: str, text: str, *, question: str, budget: int, reading: Reading, spent: Spent) -> str:
    """Notes on `text` of at most `budget` tokens, read in parts as many rounds as it takes."""
    count = _counter(reading)
    for round_number in range(1, MAX_ROUNDS + 1):
        if count(text) <= budget:
            return text
        parts = split(text, question=question, reading=reading)
        notes = []
        for number, part in enumerate(parts, start=1):
            if reading.status is not None:
                what = name if round_number == 1 else f"my notes on {name}"
                reading.status(f"Reading part {number} of {len(parts)} of {what}…")
            notes.append(
                f"[part {number} of {len(parts)}] {read_part(part, question=question, reading=reading, spent=spent)}"
            )
        header = f"(Notes from reading {name} in {len(parts)} parts.)"
        text = header + "\n" + "\n".join(notes)
    log.warning("notes on %s still exceed %d tokens after %d rounds; cutting them", name, budget, MAX_ROUNDS)
    return _cut(text, budget, count)


def split(text: str, *, question: str, reading: Reading) -> list[str]:
    """`text` in parts whose whole prompt (reader instructions, question, part) leaves room for the notes."""
    count = _counter(reading)
    room = reading.window - reading.note_tokens - count(READER) - count(question) - FRAMING
    if room < 32:
        raise ValueError("the context window is too small to read a document in parts")
    sample = text[:20_000]
    per_token = max(len(sample) / max(count(sample), 1), 0.5)
    size = max(int(room * per_token * 0.9), 64)
    parts: list[str] = []
    start = 0
    while start < len(text):
        end = _boundary(text, start, start + size)
        while count(text[start:end]) > room and end - start > 16:
            end = _boundary(text, start, start + (end - start) * 3 // 4)
        parts.append(text[start:end])
        start = end
    return [p for p in parts if p.strip()]


def read_part(part: str, *, question: str, reading: Reading, spent: Spent) -> str:
    messages = (
        ChatMessage("system", READER),
        ChatMessage("user", f"Their request: {question or 'summarize the document'}\n\nThe part:\n{part}"),
    )
    request = replace(reading.base, messages=messages, max_tokens=reading.note_tokens, tools=(), tool_choice=None)
    done = complete(reading.engine, request)
    # A server that reports no usage is counted with its own tokenizer, as the answer's rounds are.
    model = reading.base.model
    spent.prompt_tokens += done.prompt_tokens or reading.engine.count_tokens(messages, model=model)
    spent.completion_tokens += done.completion_tokens or _counter(reading)(done.text)
    spent.calls += 1
    return " ".join(done.text.split())


def _counter(reading: Reading) -> Callable[[str], int]:
    model = reading.base.model
    return lambda text: reading.engine.count_text(text, model=model) if text else 0


def _boundary(text: str, start: int, end: int) -> int:
    """`end`, moved back to the last paragraph, line or word break when one is near."""
    if end >= len(text):
        return len(text)
    floor = start + (end - start) // 2
    for mark in ("\n\n", "\n", " "):
        found = text.rfind(mark, floor, end)
        if found > start:
            return found + len(mark)
    return max(end, start + 1)


def _cut(text: str, budget: int, count: Callable[[str], int]) -> str:
    while text and count(text) > budget:
        text = text[: len(text) * 3 // 4]
    return text
