"""The Discord surface end to end: the real discord.py bot and worker sink against the fake Discord,
on the in-process stack (worker thread + engine simulator) of both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bots.discord import endpoints, rest
from bots.discord.settings import DiscordSettings, load_discord_settings
from bots.discord.store import Store
from bots.discord.surface import DiscordSurface
from tests.fixtures.discord_fake import FakeDiscord
from workers.stack import Stack

EDIT_INTERVAL = 0.3


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
def discord_settings(fake_discord: FakeDiscord) -> Iterator[DiscordSettings]:
    settings = discord_settings_for(fake_discord)
    rest.configure(settings)
    yield settings
    rest.close_shared()


@pytest.fixture(autouse=True)
def _calm_fake(request: pytest.FixtureRequest) -> None:
    if "fake_discord" in request.fixturenames:
        fake: FakeDiscord = request.getfixturevalue("fake_discord")
        fake.world.faults.clear()
        fake.world.deny_message_content = False


def start_bot(stack: Stack, settings: DiscordSettings) -> DiscordSurface:
    surface = DiscordSurface(
        settings=settings,
        store=Store(sessions=stack.sessions, enqueue=stack.enqueue),
        bot_options={"guild_ready_timeout": 0.05},
    )
    surface.start(timeout=20)
    return surface


@pytest.fixture
def bot(clean_stack: Stack, discord_settings: DiscordSettings, fake_discord: FakeDiscord) -> Iterator[DiscordSurface]:
    surface = start_bot(clean_stack, discord_settings)
    yield surface
    surface.stop()
