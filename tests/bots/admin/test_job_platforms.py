"""Admin jobs delivered through the real Slack and Discord sinks, into the fake platforms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bots.slack.sink import SinkFactory
from tests.bots.admin.conftest import Admin, signed_post, wait_job
from tests.bots.conftest import slack_settings
from tests.fixtures.discord_fake import payloads
from tests.fixtures.discord_fake.server import FakeDiscord
from tests.fixtures.fake_slack import TEAM, FakeSlack
from workers.events import Platform
from workers.sinks import DEFAULT_FACTORIES


@pytest.fixture
def slack_sink(admin: Admin, fake: FakeSlack) -> Iterator[None]:
    runtime = admin.stack.runtime
    assert runtime is not None
    SinkFactory.build(slack_settings(fake), sessions=admin.stack.sessions).register(runtime)
    yield
    runtime.sinks.register(Platform.SLACK, DEFAULT_FACTORIES[Platform.SLACK])


def test_a_job_posts_its_answer_into_a_slack_channel(
    admin: Admin,
    simulator,
    fake: FakeSlack,
    slack_sink: None,
) -> None:
    simulator.config.answer = lambda _m: "Here is the weekly summary."
    tenant_id = admin.tenant("slack", TEAM, "Team")
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
    discord_settings,
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


# -- a tenant's job may only post into that tenant's own channels ------------------------------


def _job(job_id: str, kind: str, channel: str, thread: str | None = None) -> dict[str, object]:
    destination = {"type": kind, "channel": channel, **({"thread": thread} if thread else {})}
    return {"id": job_id, "skill": "ask", "input": "post this", "destination": destination}


def test_a_job_cannot_post_into_another_guilds_channel(
    admin: Admin, simulator, fake_discord: FakeDiscord, discord_settings
) -> None:
    world = fake_discord.world
    foreign = payloads.snowflake()
    world.channels[foreign] = payloads.text_channel(foreign, payloads.snowflake(), "elsewhere")
    tenant_id = admin.tenant("discord", str(world.guild_of(world.general)))
    hook_id, secret = admin.hook(tenant_id)
    before = len(world.calls)
    refused = [
        signed_post(admin, hook_id, secret, _job("a", "discord", str(foreign))),
        signed_post(admin, hook_id, secret, _job("b", "discord", "not-a-number")),
        signed_post(admin, hook_id, secret, _job("c", "discord", "123456789012345678")),
        # A thread of this guild named under a foreign channel, and a real channel with a foreign "thread".
        signed_post(admin, hook_id, secret, _job("d", "discord", str(foreign), thread=str(world.bot_thread))),
        signed_post(admin, hook_id, secret, _job("e", "discord", str(world.random), thread=str(world.bot_thread))),
        signed_post(admin, hook_id, secret, _job("f", "discord", str(world.general), thread=str(foreign))),
    ]
    assert [r.status_code for r in refused] == [422] * 6, [r.text for r in refused]
    assert "not in this tenant" in refused[0].json()["detail"]
    assert not [c for c in world.calls[before:] if c.method != "GET"]
    assert world.in_channel(foreign) == []
    with admin.api() as api:
        assert api.get(f"/api/tenants/{tenant_id}/jobs/a").status_code == 404


def test_a_job_cannot_post_into_another_workspaces_channel(
    admin: Admin, simulator, fake: FakeSlack, slack_sink: None
) -> None:
    fake.elsewhere["C0THEIRS"] = "T0OTHER01"
    tenant_id = admin.tenant("slack", TEAM, "Team")
    hook_id, secret = admin.hook(tenant_id)
    refused = signed_post(admin, hook_id, secret, _job("x", "slack", "C0THEIRS"))
    assert refused.status_code == 422 and "not in this tenant" in refused.json()["detail"]
    missing = signed_post(admin, hook_id, secret, _job("y", "slack", "nonsense"))
    assert missing.status_code == 422
    assert [c.method for c in fake.calls if c.method.startswith("chat.")] == []


def test_the_worker_checks_again_before_it_sends(
    admin: Admin, simulator, fake_discord: FakeDiscord, discord_settings
) -> None:
    """Where the intake could not ask Discord, the job is taken but its answer never reaches the channel."""
    simulator.config.answer = lambda _m: "secret plans"
    world = fake_discord.world
    foreign = payloads.snowflake()
    world.channels[foreign] = payloads.text_channel(foreign, payloads.snowflake(), "elsewhere")
    tenant_id = admin.tenant("discord", str(world.guild_of(world.general)))
    hook_id, secret = admin.hook(tenant_id)
    admin.service.services.destinations = None
    assert signed_post(admin, hook_id, secret, _job("late", "discord", str(foreign))).status_code == 202
    done = wait_job(admin, tenant_id, "late", until={"completed", "failed"}, timeout=30)
    assert done["status"] == "completed" and "not in this tenant" in str(done["delivery_error"])
    assert world.in_channel(foreign) == []
