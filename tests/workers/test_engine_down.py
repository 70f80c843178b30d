"""Engine down: the user gets a short apology, the message is kept, and a retry answers once it is back."""

from __future__ import annotations

from sqlalchemy import select

from db.models import ProcessedEvent
from engine.simulator import SimulatedEngine
from tests.helpers import chat, messages, settle
from tests.workers.test_redelivery import bus_items
from workers.intake import resend
from workers.stack import Stack


def test_engine_down_apologises_keeps_the_message_and_answers_on_retry(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    simulator.config.mode = "unavailable"
    said = chat(clean_stack, "Are you there?")
    assert said.code == 1
    assert "language engine is not answering" in said.err
    assert "Your message is saved" in said.err
    assert [m.content for m in messages(clean_stack)] == ["Are you there?"]
    with clean_stack.sessions() as session:
        event = session.scalars(select(ProcessedEvent)).one()
        assert event.status == "failed"
        assert "(503)" in (event.error or "")
        key, tenant_id = event.key, event.tenant_id

    simulator.config.mode = "ok"
    assert resend(key, tenant_id=tenant_id, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
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
    assert not resend(key, tenant_id=tenant_id, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)


def test_rate_limited_engine_tells_when_to_come_back(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    simulator.config.mode = "rate_limited"
    said = chat(clean_stack, "hello")
    assert said.code == 1
    assert "overloaded" in said.err and "about 1 s" in said.err


def test_engine_dying_mid_answer_is_reported_not_silent(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    simulator.config.answer = lambda _m: "one two three four five six"
    simulator.config.drop_after_tokens = 2
    said = chat(clean_stack, "go")
    assert said.code == 1
    assert said.out.startswith("one two")
    assert "not answering" in said.err
    assert [m.role for m in messages(clean_stack)] == ["user"]
