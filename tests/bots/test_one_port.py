"""One ASGI app: with `llmos run`'s start-up, Slack's Events API and Discord's interactions are routes
of the admin service, on its one port, next to the web chat; a surface given a port of its own
(SLACK_PORT, DISCORD_INTERACTIONS_PORT) keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from bots import surfaces
from bots.admin.surface import AdminSurface
from bots.discord.surface import DiscordSurface
from bots.slack.settings import load_slack_settings
from bots.slack.surface import SlackSurface
from tests.bots.admin.conftest import admin_settings
from tests.bots.conftest import discord_settings_for, slack_settings
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import wait_done
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.fake_slack import BOT_TOKEN, FakeSlack
from tests.fixtures.slack_wire import SIGNING_SECRET, SlackHttp
from tests.helpers import settle
from workers.stack import Stack

PING = {"id": "1", "application_id": "1", "type": 1, "token": "t", "version": 1}


@dataclass
class OnePort:
    url: str
    admin: AdminSurface
    slack: SlackSurface
    discord: DiscordSurface


@pytest.fixture
def one_port(clean_stack: Stack, fake: FakeSlack, fake_discord: FakeDiscord) -> Iterator[OnePort]:
    # No SLACK_PORT and no DISCORD_INTERACTIONS_PORT: both join the admin service's app.
    slack = load_slack_settings(
        _env_file=None, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.api_url
    )
    discord = discord_settings_for(fake_discord, public_key=fake_discord.public_key)
    built = [
        AdminSurface(settings=admin_settings()),
        SlackSurface(settings=slack),
        DiscordSurface(settings=discord, bot_options={"guild_ready_timeout": 0.05}),
    ]
    for surface in built:
        clean_stack.add_surface(surface)
    started = surfaces.start_all(clean_stack, built)
    try:
        assert started == built
        admin, slack_surface, bot = built
        assert isinstance(admin, AdminSurface) and admin.service is not None
        assert isinstance(slack_surface, SlackSurface) and isinstance(bot, DiscordSurface)
        yield OnePort(admin.service.url, admin, slack_surface, bot)
    finally:
        for surface in reversed(built):
            surface.stop()


def test_slack_events_arrive_on_the_admin_port(one_port: OnePort, clean_stack: Stack, fake: FakeSlack, simulator):
    simulator.config.answer = lambda _m: "Paris."
    assert one_port.slack.http is None, "no server of its own"
    assert "on the admin service's port" in one_port.slack.describe()
    http = SlackHttp(f"{one_port.url}/slack/events")
    try:
        ts = mention(Running(one_port.slack, http, fake, clean_stack), "What is the capital of France?")["ts"]
        assert fake.answer(CHANNEL, ts).markdown == "Paris."
        forged = httpx.post(f"{one_port.url}/slack/events", json={"type": "event_callback"})
        assert forged.status_code == 401, "bolt checks the signature on this route too"
        # Signed, but a block action without its actions: bolt's matchers cannot take it.
        malformed = http.interaction(
            {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "actions": []}
        )
        assert malformed.status_code == 400 and "malformed" in malformed.text
    finally:
        http.close()
    settle(clean_stack)


def test_discord_interactions_arrive_on_the_admin_port(one_port: OnePort, fake_discord: FakeDiscord, clean_stack):
    fake = fake_discord
    url = f"{one_port.url}/discord/interactions"
    assert "on the admin service's port" in one_port.discord.describe()
    body, headers = fake.signed(PING)
    assert httpx.post(url, content=body, headers=headers).json() == {"type": 1}
    assert httpx.post(url, content=body, headers={"Content-Type": "application/json"}).status_code == 401
    payload = fake.interaction(slash("ask", question="over one port?"), channel=fake.world.general)
    status, answer = fake.deliver(url, payload)
    assert status == 200 and answer == {"type": 5, "data": {"flags": 0}}
    wait_done(clean_stack, payload["id"])
    found = fake.world.interactions[int(payload["id"])]
    assert fake.run(lambda: fake.world.messages[found.original]["content"]) == "You said: over one port?"
    # The web chat is on the same port.
    assert httpx.get(f"{one_port.url}/chat").status_code == 200


def test_a_port_of_its_own_is_still_honoured(clean_stack: Stack, fake: FakeSlack) -> None:
    own = SlackSurface(settings=slack_settings(fake))  # SLACK_PORT set (0: any free port)
    host = AdminSurface(settings=admin_settings())
    clean_stack.add_surface(own)
    surfaces.start_all(clean_stack, [host, own])
    try:
        assert own.http is not None and own.routes() == []
        assert f":{own.http.port}/slack/events" in own.describe()
    finally:
        own.stop()
        host.stop()
