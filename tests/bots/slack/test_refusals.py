"""A limit that turns `/llmos` away is told to the asker alone: nothing flashes in the channel (issue 17, item 7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db.models import Tenant, TenantLimits
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import ADMIN, command, responses
from tests.bots.slack.test_conversations import CHANNEL
from tests.fixtures.fake_slack import TEAM
from tests.helpers import settle


def _public(run: Running) -> list[dict[str, Any]]:
    """What LLMOS posted or deleted in the channel."""
    calls = [*run.fake.calls_to("chat.postMessage"), *run.fake.calls_to("chat.delete")]
    return [call.args for call in calls if call.args.get("channel") == CHANNEL]


def _refused_privately(run: Running, hook: str) -> str:
    responses(run, hook)
    settle(run.stack)
    shown = [b for h, b in run.fake.responses if h == hook]
    assert len(shown) == 1
    assert shown[0].get("response_type", "ephemeral") == "ephemeral"  # Slack's default for a response_url
    return str(shown[0]["text"])


def test_a_user_over_the_rate_limit_is_refused_privately_with_no_header(slack: Running) -> None:
    assert responses(slack, command(slack, "admin rate 1", user=ADMIN))[0]["text"].startswith("Each user here")
    command(slack, "why is the sky blue?")
    slack.fake.answer(CHANNEL, slack.fake.wait_for(lambda: slack.fake.replies(CHANNEL, None))[0].ts)
    settle(slack.stack)
    before = _public(slack)
    assert "asked: `/llmos why is the sky blue?`" in before[0]["text"]  # the first question's header

    refused = _refused_privately(slack, command(slack, "and why is grass green?"))
    assert _public(slack) == before
    assert refused.startswith("Sorry, you have reached the limit of 1 requests per minute.")


def test_a_spent_token_quota_is_refused_privately_with_no_header(slack: Running) -> None:
    assert responses(slack, command(slack, "admin rate 100", user=ADMIN))  # the workspace is known
    with slack.stack.sessions.begin() as session:
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.external_id == TEAM)).one()
        session.get_one(TenantLimits, tenant_id).tenant_tokens_per_day = 0

    refused = _refused_privately(slack, command(slack, "summarize 10"))
    assert _public(slack) == []
    assert refused.startswith("Sorry, this workspace has used its 0 tokens for today.")
