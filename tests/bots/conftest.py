"""Fakes of the chat platforms, shared by every surface's tests (one process talks to one fake of each)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bots.discord import endpoints
from bots.discord.settings import DiscordSettings, load_discord_settings
from bots.discord.sink import DiscordReplies
from bots.slack.settings import SlackSettings, load_slack_settings
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.fake_slack import BOT_TOKEN, FakeSlack
from tests.fixtures.slack_wire import SIGNING_SECRET
from workers.stack import Stack

EDIT_INTERVAL = 0.3


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.reset()
    return fake_slack


def slack_settings(fake: FakeSlack, **overrides: object) -> SlackSettings:
    values: dict[str, object] = {
        "_env_file": None,
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_url": fake.api_url,
        "host": "127.0.0.1",
        "port": 0,
        "rate_limit_retries": 3,
    }
    values.update(overrides)
    return load_slack_settings(**values)


@pytest.fixture(scope="session")
def fake_discord() -> Iterator[FakeDiscord]:
    # Discord's 5-per-5-seconds message buckets, at 5 per second so a test need not wait them out.
    with FakeDiscord(heartbeat_ms=300, bucket_window=1.0) as fake:
        endpoints.use(api_url=fake.url, gateway_url=fake.gateway_url)
        yield fake


def discord_settings_for(fake: FakeDiscord, **overrides: object) -> DiscordSettings:
    values: dict[str, object] = {
        "_env_file": None,
        "token": fake.world.token,
        "api_url": fake.url,
        "gateway_url": fake.gateway_url,
        "edit_interval": EDIT_INTERVAL,
    }
    values.update(overrides)
    return load_discord_settings(**values)


@pytest.fixture(scope="session")
def discord_settings(fake_discord: FakeDiscord) -> DiscordSettings:
    return discord_settings_for(fake_discord)


@pytest.fixture
def discord_replies(clean_stack: Stack, discord_settings: DiscordSettings) -> Iterator[DiscordReplies]:
    """The workers' Discord outlet on the in-process stack, as `llmos run` gives it (no bot needed)."""
    replies = DiscordReplies(settings=discord_settings, bus=clean_stack.bus)
    clean_stack.sinks.add(replies.outlet())
    yield replies
    replies.close()
