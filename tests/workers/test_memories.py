"""Memories: saved, listed, used in the prompt, forgotten; never shown to another person or tenant."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Memory
from engine.simulator import SimulatedEngine
from tests.helpers import chat
from tests.workers.test_tools import ask_as
from tests.workers.toolscript import call_once, use
from workers.events import Kind
from workers.requests import parse
from workers.stack import Stack


def system_of(simulator: SimulatedEngine) -> str:
    return str(simulator.requests[-1].body["messages"][0]["content"])


def test_the_parser_knows_the_memory_commands() -> None:
    assert parse("Remember that I take my coffee black").args == {"fact": "I take my coffee black"}
    assert parse("remember that\nmy train leaves at 8").kind is Kind.REMEMBER
    assert parse("/remember the office is in Lyon").args == {"fact": "the office is in Lyon"}
    assert parse("/memories").kind is Kind.MEMORIES
    assert parse("/forget-memory 2").args == {"which": "2"}
    assert parse("/forget-memory ALL").args == {"which": "all"}
    # Only "remember that …" at the start is a command; a question about remembering is a question.
    assert parse("Do you remember that song?").kind is Kind.ASK
    assert parse("remember").kind is Kind.ASK


def test_saved_listed_used_and_forgotten(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    assert chat(clean_stack, "/remember I am vegetarian").out.startswith("I will remember: I am vegetarian")
    assert chat(clean_stack, "remember that my name is Ada").out.startswith("I will remember: my name is Ada")
    listed = chat(clean_stack, "/memories").out
    assert "1. my name is Ada\n2. I am vegetarian" in listed
    assert simulator.requests == []  # commands never reach the engine

    chat(clean_stack, "Suggest a dinner")
    system = system_of(simulator)
    assert system.endswith(
        "What the person asked you to remember (most recent first):\n- my name is Ada\n- I am vegetarian"
    )
    # The command lines are not conversation turns.
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user"]

    assert chat(clean_stack, "/forget-memory 2").out.startswith("Done: I forgot memory 2.")
    assert chat(clean_stack, "/forget-memory 9").out.startswith("There is no memory number 9")
    assert chat(clean_stack, "/forget-memory soon").out.startswith("Usage: /forget-memory")
    chat(clean_stack, "And now?")
    assert "vegetarian" not in system_of(simulator) and "- my name is Ada" in system_of(simulator)
    assert chat(clean_stack, "/forget-memory all").out.startswith("Done: I forgot all 1 of your memories.")
    assert chat(clean_stack, "/memories").out.startswith("I remember nothing about you yet.")
    chat(clean_stack, "Anything?")
    assert "remember" not in system_of(simulator)


def test_memories_stay_with_their_person_and_tenant(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    chat(clean_stack, "/remember my locker code is 1234", user="alice")
    chat(clean_stack, "What is my locker code?", user="bob")
    assert "1234" not in system_of(simulator)
    assert chat(clean_stack, "/memories", user="bob").out.startswith("I remember nothing")
    assert chat(clean_stack, "/forget-memory all", user="bob").out == "I had no memories of yours.\n"
    ask_as(clean_stack, "What is my locker code?", user="alice", channel="terminal", tenant="other")
    assert "1234" not in system_of(simulator)
    chat(clean_stack, "What is my locker code?", user="alice")
    assert "1234" in system_of(simulator)


def test_the_prompt_keeps_the_most_recent_memories_within_the_cap(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    budget = clean_stack.settings.memory_max_tokens
    words = " ".join(["filler"] * 40)
    for number in range(budget // 40 + 5):
        chat(clean_stack, f"/remember fact {number}: {words}")
    chat(clean_stack, "hello")
    system = system_of(simulator)
    kept = [line for line in system.splitlines() if line.startswith("- fact ")]
    assert kept and kept[0].startswith(f"- fact {budget // 40 + 4}:")
    assert "- fact 0:" not in system


def test_the_model_can_save_a_memory_and_the_person_sees_it(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    use(simulator, call_once("remember", fact="Prefers answers in bullet points"))
    said = chat(clean_stack, "Please always use bullet points with me")
    assert said.out.endswith("(Saved to your memories: Prefers answers in bullet points)\n")
    assert "Using memory…" in said.err
    with clean_stack.sessions() as session:
        assert session.scalars(select(Memory.content)).all() == ["Prefers answers in bullet points"]


def test_forget_deletes_the_persons_memories(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    chat(clean_stack, "/remember I live in Oslo", user="alice")
    chat(clean_stack, "/remember I live in Rome", user="bob")
    said = chat(clean_stack, "/forget", user="alice")
    assert "1 memory(ies)" in said.out
    with clean_stack.sessions() as session:
        assert session.scalars(select(Memory.content)).all() == ["I live in Rome"]
