"""Engine down: the user gets a short apology, the message is kept, and it is answered once the engine is back."""

from __future__ import annotations

import time

from sqlalchemy import select

from db.models import ProcessedEvent
from engine.simulator import SimulatedEngine
from tests.helpers import chat, messages, settle
from tests.workers.test_redelivery import bus_items
from workers.stack import Stack


def test_engine_down_apologises_keeps_the_message_and_answers_once_it_is_back(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    simulator.config.mode = "unavailable"
    said = chat(clean_stack, "Are you there?")
    assert said.code == 1
    assert "language engine is not answering" in said.err
    assert "I will answer here as soon as it is back" in said.err
    assert [m.content for m in messages(clean_stack)] == ["Are you there?"]
    with clean_stack.sessions() as session:
        event = session.scalars(select(ProcessedEvent)).one()
        assert (event.status, event.failure) == ("failed", "engine")
        assert "(503)" in (event.error or "")
        key = event.key

    # Nobody calls anything: the reconciler sees the engine answer again and sends the event once more.
    simulator.config.mode = "ok"
    items = bus_items(clean_stack.bus, key)
    settle(clean_stack)
    kinds = [item["type"] for item in items]
    # The apology message is taken over by the answer: one answer message, not two.
    assert kinds[:2] == ["start", "error"] and "reset" in kinds and kinds[-1] == "done"
    assert items[-1]["text"] == "You said: Are you there?"
    assert [(m.role, m.content) for m in messages(clean_stack)] == [
        ("user", "Are you there?"),
        ("assistant", "You said: Are you there?"),
    ]
    with clean_stack.sessions() as session:
        row = session.get(ProcessedEvent, key)
        assert row is not None and (row.status, row.failure, row.attempts) == ("done", None, 2)


def test_rate_limited_engine_tells_when_to_come_back(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    simulator.config.mode = "rate_limited"
    said = chat(clean_stack, "hello")
    assert said.code == 1
    assert "overloaded" in said.err and "about 1 s" in said.err


def test_engine_dying_mid_answer_is_asked_again_then_reported(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    simulator.config.answer = lambda _m: "one two three four five six"
    simulator.config.drop_after_tokens = 2
    simulator.config.mode = "ok"
    said = chat(clean_stack, "go")
    assert said.code == 1
    assert said.out.startswith("one two")
    assert "not answering" in said.err
    # Asked twice in the attempt (a cut stream is retried), never stored as an answer.
    assert len(simulator.requests) == 2
    assert [m.role for m in messages(clean_stack)] == ["user"]
    with clean_stack.sessions() as session:
        row = session.scalars(select(ProcessedEvent)).one()
        assert (row.status, row.failure) == ("failed", "engine")
    # The engine answers /v1/models, so the reconciler sends it again; each attempt is cut the same way,
    # and the event ends after its attempts instead of looping.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with clean_stack.sessions() as session:
            row = session.scalars(select(ProcessedEvent)).one()
            if (row.status, row.failure) == ("failed", "poison"):
                break
        time.sleep(0.2)
    assert (row.status, row.failure, row.attempts) == ("failed", "poison", 3)
    assert [m.role for m in messages(clean_stack)] == ["user"]


def test_a_stream_without_a_finish_reason_is_not_stored_as_an_answer(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    simulator.config.send_finish = False
    said = chat(clean_stack, "What is the capital of France?")
    assert said.code == 1
    assert [m.role for m in messages(clean_stack)] == ["user"]
    assert len(simulator.requests) == 2
