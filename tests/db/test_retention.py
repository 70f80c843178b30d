"""Retention: old records and idle conversations go, recent ones and unfinished work stay, used reply
credentials are scrubbed from stored events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

import db.admin  # noqa: F401 - the admin tables must be on Base for clear_tables
from db import notices, retention
from db.admin import Delivery
from db.models import Conversation, Message, Notice, ProcessedEvent
from tests.helpers import chat
from workers.stack import Stack

NOW = datetime.now(UTC).replace(tzinfo=None)
LONG_AGO = NOW - timedelta(days=40)


def _age_thread(stack: Stack, thread: str) -> None:
    with stack.sessions.begin() as session:
        conversation = session.scalars(select(Conversation).where(Conversation.thread_key.endswith(thread))).one()
        conversation.created_at = LONG_AGO
        keys = [m.event_key for m in session.scalars(select(Message).where(Message.conversation_id == conversation.id))]
        session.execute(update(Message).where(Message.conversation_id == conversation.id).values(created_at=LONG_AGO))
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.key.in_(keys))
            .values(received_at=LONG_AGO.replace(tzinfo=UTC).timestamp())
        )


def test_old_records_and_idle_conversations_go(clean_stack: Stack, simulator) -> None:
    chat(clean_stack, "long ago", thread="old")
    chat(clean_stack, "today", thread="new")
    chat(clean_stack, "started long ago", thread="revived")
    _age_thread(clean_stack, "old")
    _age_thread(clean_stack, "revived")
    chat(clean_stack, "and continued today", thread="revived")
    with clean_stack.sessions.begin() as session:
        notices.emit(session, kind=notices.QUOTA_EXCEEDED, tenant_id=None, data={})
        session.execute(update(Notice).values(created_at=LONG_AGO))
        session.add(Delivery(kind="k", url="https://x.example/", status="delivered", created_at=LONG_AGO))
        session.add(Delivery(kind="k", url="https://x.example/", status="pending", created_at=LONG_AGO))
    with clean_stack.sessions.begin() as session:
        pruned = retention.prune(session, days=30, now=NOW)
    assert (pruned.conversations, pruned.messages, pruned.notices, pruned.deliveries) == (1, 2, 1, 1)
    assert pruned.events == 2  # the aged question of "old" and the first one of "revived"
    with clean_stack.sessions() as session:
        threads = {c.thread_key.rsplit(":", 1)[-1] for c in session.scalars(select(Conversation))}
        left = session.scalars(select(Message.content).where(Message.role == "user").order_by(Message.id)).all()
        pending = session.scalars(select(Delivery.status)).all()
    assert threads == {"new", "revived"}
    assert left == ["today", "started long ago", "and continued today"]
    assert pending == ["pending"]
    with clean_stack.sessions.begin() as session:
        assert retention.prune(session, days=30, now=NOW).total() == 0


def test_reply_credentials_are_scrubbed_once_used(clean_stack: Stack, simulator) -> None:
    chat(clean_stack, "hello", thread="t")
    with clean_stack.sessions.begin() as session:
        row = session.scalars(select(ProcessedEvent)).one()
        row.payload = {**row.payload, "ref": {"token": "interaction-token-123", "response_url": "https://h/x", "a": 1}}
        row.status, row.finished_at = "done", time.time()
    # Measured from the test's own moment: the suite may reach this test long after NOW was taken.
    now = datetime.now(UTC).replace(tzinfo=None)
    with clean_stack.sessions.begin() as session:
        assert retention.scrub_credentials(session, now=now) == 0  # still within the grace period
    with clean_stack.sessions.begin() as session:
        assert retention.scrub_credentials(session, now=now + timedelta(minutes=20)) == 1
    with clean_stack.sessions() as session:
        assert session.scalars(select(ProcessedEvent.payload)).one()["ref"] == {"a": 1}
