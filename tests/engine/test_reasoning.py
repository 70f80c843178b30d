"""Reasoning stays out of the visible answer, however the stream is cut, unless the user asks for it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from engine.base import ChatMessage, ChatRequest, complete
from engine.openai_compat import OpenAICompatEngine
from engine.reasoning import ThinkFilter, Thoughts
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.helpers import chat, messages
from workers.stack import Stack


@dataclass
class Delta:
    content: str | None = None
    reasoning: str | None = None


ANSWER = "<think>\nThe user greets me. I greet back.\n</think>\n\nHello! How can I help?"


def run(text: str, size: int) -> tuple[str, str]:
    """Feed `text` in chunks of `size` characters, as a server cutting anywhere would."""
    flt = ThinkFilter()
    visible = reasoning = ""
    for start in range(0, len(text), size):
        part = flt.feed(text[start : start + size])
        visible, reasoning = visible + part.visible, reasoning + part.reasoning
    end = flt.finish()
    return visible + end.visible, reasoning + end.reasoning


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 1000])
def test_a_leading_think_block_is_removed_wherever_the_chunks_cut_it(size: int) -> None:
    visible, reasoning = run(ANSWER, size)
    assert visible == "Hello! How can I help?"
    assert reasoning.strip() == "The user greets me. I greet back."


@pytest.mark.parametrize("size", [1, 4, 100])
def test_text_without_reasoning_is_untouched_but_for_leading_blanks(size: int) -> None:
    text = "<b>Bold</b> and a < sign, then <think> is just a word here.\n"
    assert run(text, size) == (text, "")
    assert run("\n\n  " + text, size) == (text, "")


def test_a_think_tag_after_the_answer_started_is_part_of_the_answer() -> None:
    assert run("Use the <think> tag like <think>this</think>.", 3)[0] == "Use the <think> tag like <think>this</think>."


def test_an_unfinished_thought_is_never_shown() -> None:
    assert run("<think>I was cut off by max_tok", 4) == ("", "I was cut off by max_tok")


def test_a_cut_tag_at_the_very_end_is_shown_as_text() -> None:
    assert run("<thi", 1) == ("<thi", "")


def test_only_the_answer_is_shown_while_the_thinking_streams() -> None:
    flt = ThinkFilter()
    assert flt.feed("<th").visible == ""
    assert flt.feed("ink>plan</th").visible == ""
    assert flt.feed("ink>\n\nHi").visible == "Hi"
    assert flt.feed(" there").visible == " there"


@pytest.fixture
def vllm_sim() -> SimulatedEngine:
    with SimulatedEngine(SimulatorConfig(vllm=True)) as sim:
        yield sim


def ask(sim: SimulatedEngine, *, show: bool = False) -> str:
    engine = OpenAICompatEngine(url=sim.url, retries=0)
    try:
        request = ChatRequest(messages=(ChatMessage("user", "hi"),), show_reasoning=show)
        return complete(engine, request).text
    finally:
        engine.close()


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
def test_the_reasoning_field_is_dropped_unless_asked_for(vllm_sim: SimulatedEngine, field: str) -> None:
    vllm_sim.config.reasoning = "Greeting, so greet back."
    vllm_sim.config.reasoning_field = field
    vllm_sim.config.answer = lambda _m: "Hello!"
    assert ask(vllm_sim) == "Hello!"
    assert ask(vllm_sim, show=True) == "<think>\nGreeting, so greet back.\n</think>\n\nHello!"


def test_inline_thinking_is_dropped_over_http_unless_asked_for(vllm_sim: SimulatedEngine) -> None:
    vllm_sim.config.answer = lambda _m: ANSWER
    assert ask(vllm_sim) == "Hello! How can I help?"
    assert ask(vllm_sim, show=True) == ANSWER


def test_the_reasoning_preference_reaches_the_answer(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    simulator.config.answer = lambda _m: ANSWER
    said = chat(clean_stack, "hello")
    assert said.out == "Hello! How can I help?\n"
    assert messages(clean_stack, "assistant")[-1].content == "Hello! How can I help?"
    assert chat(clean_stack, "/prefs set reasoning maybe").out.startswith("Cannot set reasoning to 'maybe'")
    assert chat(clean_stack, "/prefs set reasoning Show").out.startswith("Saved: reasoning = show")
    said = chat(clean_stack, "hello again")
    assert "<think>" in said.out and said.out.rstrip().endswith("Hello! How can I help?")


def test_a_finished_answer_that_is_all_reasoning_is_shown(vllm_sim: SimulatedEngine) -> None:
    # vLLM's parsers call everything before </think> reasoning: a model that never thinks answers
    # in the reasoning field only. Showing nothing would lose the answer.
    vllm_sim.config.reasoning = "Paris is the capital."
    vllm_sim.config.answer = lambda _m: ""
    assert ask(vllm_sim) == "Paris is the capital."


def test_an_answer_cut_while_thinking_shows_nothing(vllm_sim: SimulatedEngine) -> None:
    vllm_sim.config.answer = lambda _m: "<think>Let me consider every capital of Europe in turn"
    engine = OpenAICompatEngine(url=vllm_sim.url, retries=0)
    request = ChatRequest(messages=(ChatMessage("user", "hi"),), max_tokens=5)
    done = complete(engine, request)
    engine.close()
    assert (done.text, done.finish_reason) == ("", "length")


def test_blank_lines_after_the_reasoning_field_are_not_shown() -> None:
    deltas = [Delta(reasoning="Short."), Delta(content="\n"), Delta(content="\n"), Delta(content="Done.")]
    for show, expected in ((False, "Done."), (True, "<think>\nShort.\n</think>\n\nDone.")):
        thoughts = Thoughts(show=show)
        assert "".join(thoughts.feed(d) for d in deltas) + thoughts.finish("stop") == expected
