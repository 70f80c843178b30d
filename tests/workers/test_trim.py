"""Context trimming: the oldest turns go first, the system prompt and the request always stay."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.base import ChatMessage
from workers.trim import CUT_MARK, fit


def words(text: str) -> int:
    return len(text.split())


def prompt_words(messages: Sequence[ChatMessage]) -> int:
    return sum(words(m.content) + 5 for m in messages)


def conversation(turns: int) -> list[ChatMessage]:
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x " * 8) for i in range(turns)]
    return [ChatMessage("system", "be kind"), *history, ChatMessage("user", "the question")]


def test_nothing_is_dropped_when_it_fits() -> None:
    messages = conversation(4)
    fitted = fit(messages, budget=1000, count_text=words, count_prompt=prompt_words)
    assert fitted.messages == messages
    assert (fitted.dropped, fitted.truncated) == (0, False)
    assert fitted.prompt_tokens == prompt_words(messages)


def test_oldest_turns_are_dropped_first() -> None:
    messages = conversation(10)
    fitted = fit(messages, budget=60, count_text=words, count_prompt=prompt_words)
    assert fitted.messages[0] == messages[0] and fitted.messages[-1] == messages[-1]
    assert fitted.messages[1:-1] == messages[1 + fitted.dropped : -1]
    assert fitted.dropped > 0 and fitted.prompt_tokens <= 60


def test_the_exact_count_is_checked_when_the_estimate_is_short() -> None:
    messages = conversation(6)

    def strict(kept: Sequence[ChatMessage]) -> int:
        return prompt_words(kept) + 20  # a template heavier than the per-message estimate

    fitted = fit(messages, budget=70, count_text=words, count_prompt=strict)
    assert strict(fitted.messages) <= 70


def test_an_overlong_request_is_cut_in_the_middle() -> None:
    long = " ".join(f"w{i}" for i in range(500))
    messages = [ChatMessage("system", "be kind"), ChatMessage("user", long)]
    fitted = fit(messages, budget=100, count_text=words, count_prompt=prompt_words)
    text = fitted.messages[-1].content
    assert fitted.truncated and CUT_MARK in text
    assert text.startswith("w0 w1") and text.endswith("w499")
    assert fitted.prompt_tokens <= 100


def test_no_budget_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        fit(conversation(1), budget=0, count_text=words, count_prompt=prompt_words)
