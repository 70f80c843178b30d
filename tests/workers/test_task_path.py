"""The task path end to end on both backends: SQLite + in-process broker, PostgreSQL + Redis."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Conversation, ProcessedEvent, Usage
from tests.helpers import chat, count, messages
from workers.stack import Stack


def test_a_question_is_streamed_answered_and_stored(clean_stack: Stack, simulator) -> None:
    simulator.config.answer = lambda msgs: "Paris is the capital of France."
    said = chat(clean_stack, "What is the capital of France?")
    assert said.code == 0, said.err
    assert said.out == "Paris is the capital of France.\n"
    stored = messages(clean_stack)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]
    assert stored[1].completion_tokens == 7 and stored[1].prompt_tokens > 0
    with clean_stack.sessions() as session:
        usage = session.scalars(select(Usage)).one()
        assert (usage.prompt_tokens, usage.completion_tokens) == (stored[1].prompt_tokens, 7)
        assert session.scalars(select(ProcessedEvent.status)).one() == "done"


def test_follow_up_turns_carry_the_conversation(clean_stack: Stack, simulator) -> None:
    chat(clean_stack, "My name is Ada.")
    chat(clean_stack, "What is my name?")
    last = simulator.requests[-1].body["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "user"]
    assert last[1]["content"] == "My name is Ada."
    assert last[2]["content"] == "You said: My name is Ada."
    # Another thread starts afresh.
    chat(clean_stack, "Hello", thread="t2")
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user"]
    with clean_stack.sessions() as session:
        assert len(session.scalars(select(Conversation)).all()) == 2


def test_skills_are_templates_on_the_same_path(clean_stack: Stack, simulator) -> None:
    chat(clean_stack, "We ship on Friday.")
    chat(clean_stack, "Alice owns the release notes.")
    said = chat(clean_stack, "/summarize 4")
    assert said.code == 0
    prompt = simulator.requests[-1].body["messages"]
    assert [m["role"] for m in prompt] == ["system", "user"]
    assert prompt[1]["content"].startswith("Summarize the following conversation")
    assert "alice: We ship on Friday." in prompt[1]["content"]
    assert "assistant: You said: Alice owns the release notes." in prompt[1]["content"]

    chat(clean_stack, "/translate to German good morning")
    assert simulator.requests[-1].body["messages"][-1]["content"] == (
        "Translate the following text into German. Reply with the translation only.\n\ngood morning"
    )


def test_commands_answer_without_the_engine(clean_stack: Stack, simulator) -> None:
    said = chat(clean_stack, "/help")
    assert said.code == 0 and "/summarize [n]" in said.out
    said = chat(clean_stack, "/prefs set length tiny")
    assert "Cannot set length to 'tiny'" in said.out
    said = chat(clean_stack, "/prefs set length short")
    assert said.out.startswith("Saved: length = short")
    said = chat(clean_stack, "/bogus")
    assert "unknown command /bogus" in said.out
    assert simulator.requests == []


def test_usage_reports_the_tokens_generated(clean_stack: Stack, simulator) -> None:
    simulator.config.answer = lambda msgs: "one two three"
    chat(clean_stack, "count to three")
    chat(clean_stack, "again")
    said = chat(clean_stack, "/usage")
    assert "Today:" in said.out
    assert "in 2 request(s)" in said.out
    with clean_stack.sessions() as session:
        completion = sum(u.completion_tokens for u in session.scalars(select(Usage)))
    assert completion == 6
    assert count(clean_stack, Usage) == 2


def test_a_line_that_cannot_run_as_typed_gets_its_usage_not_the_engine(clean_stack: Stack, simulator) -> None:
    said = chat(clean_stack, "/translate German")
    assert said.code == 0 and said.out.startswith("say what to translate, e.g. /translate French hello.")
    assert simulator.requests == []
