"""Request rates and token quotas at intake, on both backends: what the user reads, what the operator gets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from db import directory, notices
from db import limits as limit_rows
from db.models import Message, Notice
from tests.conftest import make_scheduling
from tests.helpers import chat
from workers.events import Event, Platform
from workers.intake import submit
from workers.scheduler.limits import TENANT_TOKENS, USER_RATE, Limits, in_words
from workers.stack import Stack


def set_limits(stack: Stack, **changes: int | float | None) -> int:
    with stack.sessions.begin() as session:
        tenant = directory.tenant(session, platform="terminal", external_id="local")
        session.flush()
        limit_rows.update(session, tenant_id=tenant.id, changes=changes)
        return tenant.id


def operator_notices(stack: Stack) -> list[dict[str, object]]:
    with stack.sessions() as session:
        return [
            dict(data)
            for data in session.scalars(
                select(Notice.data).where(Notice.kind == notices.QUOTA_EXCEEDED).order_by(Notice.id)
            )
        ]


def test_a_user_over_the_request_rate_is_told_when_to_ask_again(clean_stack: Stack) -> None:
    set_limits(clean_stack, user_requests_per_minute=2)
    assert chat(clean_stack, "one").code == 0
    assert chat(clean_stack, "two").code == 0
    said = chat(clean_stack, "three")
    assert said.code == 1 and said.out == ""
    assert re.fullmatch(
        r"Sorry, you have reached the limit of 2 requests per minute\. Please ask again in about \d+ s\.\n", said.err
    )
    assert chat(clean_stack, "four").code == 1
    assert chat(clean_stack, "from someone else", user="bob").code == 0  # the rate is per user
    # Refused messages are not stored (nothing lost: the user still has their text) and not counted.
    assert [m.content for m in clean_stack_messages(clean_stack)] == ["one", "two", "from someone else"]
    # One notice for the operator, not one per refused message.
    found = operator_notices(clean_stack)
    assert len(found) == 1
    assert found[0]["limit"] == USER_RATE and found[0]["user"] == "alice"
    assert 0 < int(str(found[0]["retry_after"])) <= 60


def clean_stack_messages(stack: Stack) -> list[Message]:
    with stack.sessions() as session:
        return list(session.scalars(select(Message).where(Message.role == "user").order_by(Message.id)))


def test_a_tenant_over_its_daily_tokens_waits_for_tomorrow(clean_stack: Stack) -> None:
    set_limits(clean_stack, tenant_tokens_per_day=20)
    assert chat(clean_stack, "tell me something long enough to spend the quota").code == 0
    event = Event(
        platform=Platform.TERMINAL,
        tenant="local",
        channel="terminal",
        thread="t1",
        user="bob",
        message_id="m-x",
        text="hi",
    )
    submitted = submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    assert not submitted.accepted
    assert submitted.refused.startswith("Sorry, this workspace has used its 20 tokens for today.")
    assert "after 00:00 UTC" in submitted.refused
    assert submitted.retry_after is not None and 0 < submitted.retry_after <= 24 * 3600
    assert [n["limit"] for n in operator_notices(clean_stack)] == [TENANT_TOKENS]
    # The same limit hit again today by someone else does not notify the operator twice.
    assert chat(clean_stack, "and again", user="carol").code == 1
    assert len(operator_notices(clean_stack)) == 1


def test_a_platform_retry_of_an_accepted_message_is_not_refused(clean_stack: Stack) -> None:
    set_limits(clean_stack, user_requests_per_minute=1)
    event = Event(
        platform=Platform.TERMINAL, tenant="local", channel="c", thread="t", user="dave", message_id="m-1", text="hi"
    )
    assert submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue).accepted
    again = submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    assert not again.accepted and again.refused == ""


def test_deployment_defaults_apply_until_a_tenant_sets_its_own(clean_stack: Stack) -> None:
    limits = Limits(settings=make_scheduling(user_requests_per_minute=1, tenant_tokens_per_day=None))
    chat(clean_stack, "first")
    with clean_stack.sessions.begin() as session:
        tenant = directory.tenant(session, platform="terminal", external_id="local")
        user = directory.user(session, tenant_id=tenant.id, external_id="alice")
        session.flush()
        verdict = limits.check(session, tenant_id=tenant.id, user_id=user.id, user="alice")
        assert verdict.refusal is not None and verdict.refusal.limit == USER_RATE
        assert verdict.weight == 1.0
        limit_rows.update(session, tenant_id=tenant.id, changes={"user_requests_per_minute": 5, "weight": 3.0})
        verdict = limits.check(session, tenant_id=tenant.id, user_id=user.id, user="alice")
        assert verdict.refusal is None and verdict.weight == 3.0
        # A minute later the window has moved on.
        limit_rows.update(session, tenant_id=tenant.id, changes={"user_requests_per_minute": None})
        later = datetime.now(UTC) + timedelta(seconds=61)
        assert limits.check(session, tenant_id=tenant.id, user_id=user.id, user="alice", now=later).refusal is None


@pytest.mark.parametrize(("seconds", "words"), [(0.2, "1 s"), (59, "59 s"), (150, "3 min"), (7300, "2 h 2 min")])
def test_waits_are_said_in_plain_units(seconds: float, words: str) -> None:
    assert in_words(seconds) == words
