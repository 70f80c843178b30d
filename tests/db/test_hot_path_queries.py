"""The one-statement forms on every event's path: resolving known rows, inserting without savepoints."""

from __future__ import annotations

from sqlalchemy import select

from db import conversations, directory, events, usage
from db.models import Tenant, User
from tests.helpers import count
from workers.stack import Stack


def resolve(stack: Stack, **names: str) -> directory.Place:
    with stack.sessions.begin() as session:
        return directory.resolve(
            session,
            platform="terminal",
            tenant_external="t1",
            user_external="u1",
            channel_external="c1",
            thread_key="th1",
            **names,
        )


def test_known_rows_resolve_to_the_same_place_and_new_names_are_kept(clean_stack: Stack) -> None:
    first = resolve(clean_stack, tenant_name="Acme", user_name="Ada")
    assert resolve(clean_stack, tenant_name="Acme", user_name="Ada") == first
    assert resolve(clean_stack) == first  # no names given: nothing to compare, nothing changes
    assert resolve(clean_stack, tenant_name="Acme Ltd", user_name="Ada L.") == first
    with clean_stack.sessions() as session:
        assert session.scalar(select(Tenant.name)) == "Acme Ltd"
        assert session.scalar(select(User.display_name)) == "Ada L."
    with clean_stack.sessions.begin() as session:
        other = directory.resolve(
            session,
            platform="terminal",
            tenant_external="t1",
            user_external="u1",
            channel_external="c1",
            thread_key="th2",
        )
    assert other.tenant_id == first.tenant_id and other.conversation_id != first.conversation_id


def test_repeated_inserts_report_the_duplicate_and_keep_one_row(clean_stack: Stack) -> None:
    place = resolve(clean_stack)
    with clean_stack.sessions.begin() as session:
        assert events.register(session, key="k1", tenant_id=place.tenant_id, payload={"a": 1})
        assert not events.register(session, key="k1", tenant_id=place.tenant_id, payload={"a": 2})
        message = {
            "tenant_id": place.tenant_id,
            "conversation_id": place.conversation_id,
            "user_id": place.user_id,
            "event_key": "k1",
            "role": "user",
            "content": "hi",
        }
        assert conversations.add_message(session, **message)
        assert not conversations.add_message(session, **message)
        assert conversations.add_message(session, **{**message, "role": "assistant"})
        spent = {"tenant_id": place.tenant_id, "user_id": place.user_id, "event_key": "k1", "model": "m"}
        assert usage.record(session, **spent, prompt_tokens=3, completion_tokens=4)
        assert not usage.record(session, **spent, prompt_tokens=30, completion_tokens=40)
    with clean_stack.sessions() as session:
        assert events.payload_of(session, key="k1", tenant_id=place.tenant_id) == {"a": 1}
        assert usage.totals(session, tenant_id=place.tenant_id).total_tokens == 7
    assert count(clean_stack, conversations.Message) == 2
