"""Admin jobs delivered through the real Slack and Discord sinks, into the fake platforms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bots.slack.sink import SinkFactory
from tests.bots.admin.conftest import Admin, signed_post, wait_job
from tests.bots.conftest import slack_settings
from tests.fixtures.discord_fake.server import FakeDiscord
from tests.fixtures.fake_slack import FakeSlack
from workers.events import Platform


@pytest.fixture
def slack_sink(admin: Admin, fake: FakeSlack) -> Iterator[None]:
    """The Slack outlet a worker gets from the Slack surface, without the Slack app running."""
    sinks = admin.stack.sinks
    sinks.add(SinkFactory.build(slack_settings(fake), sessions=admin.stack.sessions).outlet())
    yield
    sinks.remove(Platform.SLACK)


def test_a_job_posts_its_answer_into_a_slack_channel(
    admin: Admin,
    simulator,
    fake: FakeSlack,
    slack_sink: None,
) -> None:
    simulator.config.answer = lambda _m: "Here is the weekly summary."
    tenant_id = admin.tenant("slack", "T0TEAM", "Team")
    hook_id, secret = admin.hook(tenant_id)
    job = {
        "id": "digest-1",
        "skill": "ask",
        "input": "Summarize the week",
        "destination": {"type": "slack", "channel": "C0GENERAL"},
    }
    assert signed_post(admin, hook_id, secret, job).status_code == 202
    done = wait_job(admin, tenant_id, "digest-1", until={"completed", "failed"}, timeout=30)
    assert done["status"] == "completed" and done["delivery_error"] is None
    shown = fake.wait_for(
        lambda: [m for m in fake.replies("C0GENERAL", None) if "weekly summary" in (m.markdown or m.text)]
    )
    assert len(shown) == 1


def test_a_job_posts_its_answer_into_a_discord_channel(
    admin: Admin,
    simulator,
    fake_discord: FakeDiscord,
    discord_replies,
) -> None:
    simulator.config.answer = lambda _m: "Standup notes are ready."
    channel = fake_discord.world.general
    guild = fake_discord.world.guild_of(channel)
    tenant_id = admin.tenant("discord", str(guild))
    hook_id, secret = admin.hook(tenant_id)
    job = {
        "id": "notes-1",
        "skill": "ask",
        "input": "Write the notes",
        "destination": {"type": "discord", "channel": str(channel)},
    }
    assert signed_post(admin, hook_id, secret, job).status_code == 202
    done = wait_job(admin, tenant_id, "notes-1", until={"completed", "failed"}, timeout=30)
    assert done["status"] == "completed" and done["delivery_error"] is None
    posted = [m for m in fake_discord.world.in_channel(channel) if "Standup notes are ready." in m.get("content", "")]
    assert len(posted) == 1
