"""Context trimming: the oldest turns go first, the system prompt and the request always stay."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.base import ChatMessage
from workers.trim import CUT_MARK, fit, slack, upper_bound


def words(text: str) -> int:
    return len(text.split())


def prompt_words(messages: Sequence[ChatMessage]) -> int:
    return sum(words(m.content) + 5 for m in messages)


def conversation(turns: int) -> list[ChatMessage]:
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", f"turn {i} " + "x " * 8) for i in range(turns)]
    return [ChatMessage("system", "be kind"), *history, ChatMessage("user", "the question")]


def test_a_prompt_that_plainly_fits_is_not_counted() -> None:
    def never(_: object) -> int:
        raise AssertionError("no tokenizer round trip for a prompt that fits by its bytes")

    messages = conversation(4)
    fitted = fit(messages, budget=1000, count_text=never, count_prompt=never)
    assert fitted.messages == messages
    assert (fitted.dropped, fitted.truncated, fitted.prompt_tokens) == (0, False, None)
    assert upper_bound(messages) is not None and upper_bound(messages) <= 1000


def long_words(turns: int) -> list[ChatMessage]:
    """A conversation whose texts take many more bytes than (word) tokens."""
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", "extraordinarily " * 12) for i in range(turns)]
    return [ChatMessage("system", "be kind"), *history, ChatMessage("user", "the question")]


def test_a_long_conversation_counted_before_fits_by_those_counts_without_a_round_trip() -> None:
    def never(_: object) -> int:
        raise AssertionError("no tokenizer round trip: the earlier turns' counts are known")

    messages = long_words(40)
    counted = upper_bound(messages, words) or 0
    budget = int((counted + 64) * 1.1)
    assert (upper_bound(messages) or 0) > budget >= counted + slack(budget), "over the byte bound, not the counts"
    fitted = fit(messages, budget=budget, count_text=never, count_prompt=never, known=words)
    assert fitted.messages == messages and fitted.prompt_tokens is None


def test_known_counts_without_room_to_spare_are_checked_with_the_server() -> None:
    messages = long_words(40)
    budget = upper_bound(messages, words) or 0
    # Fits by the known counts, but not with the slack a chat template's own text may need: counted.
    assert (upper_bound(messages) or 0) > budget
    fitted = fit(messages, budget=budget, count_text=words, count_prompt=prompt_words, known=words)
    assert fitted.messages == messages and fitted.prompt_tokens == prompt_words(messages)


def test_nothing_is_dropped_when_it_fits_by_the_servers_count() -> None:
    messages = conversation(4)
    # Over the byte bound, but within budget by the (word) count: counted, and kept whole.
    budget = prompt_words(messages) + 10
    assert (upper_bound(messages) or 0) > budget
    fitted = fit(messages, budget=budget, count_text=words, count_prompt=prompt_words)
    assert fitted.messages == messages
    assert (fitted.dropped, fitted.truncated) == (0, False)
    assert fitted.prompt_tokens == prompt_words(messages)


def test_images_always_go_to_the_servers_count() -> None:
    messages = [ChatMessage("system", "s"), ChatMessage("user", "look", images=("data:image/png;base64,AAAA",))]
    assert upper_bound(messages) is None


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
