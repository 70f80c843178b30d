"""The Discord surface end to end: the real discord.py bot and worker sink against the fake Discord,
on the in-process stack (worker thread + engine simulator) of both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bots.discord.settings import DiscordSettings
from bots.discord.surface import DiscordSurface
from tests.bots.conftest import EDIT_INTERVAL, discord_settings_for  # noqa: F401 - used by the tests
from tests.fixtures.discord_fake import FakeDiscord
from workers.stack import Stack


@pytest.fixture(autouse=True)
def _calm_fake(request: pytest.FixtureRequest) -> None:
    if "fake_discord" in request.fixturenames:
        fake: FakeDiscord = request.getfixturevalue("fake_discord")
        fake.world.faults.clear()
        fake.world.deny_message_content = False


def start_bot(stack: Stack, settings: DiscordSettings) -> DiscordSurface:
    surface = DiscordSurface(settings=settings, bot_options={"guild_ready_timeout": 0.05})
    stack.add_surface(surface)  # what `llmos discord` does: the bot, and its outlet for the workers
    surface.start(stack, timeout=20)
    return surface


@pytest.fixture
def bot(clean_stack: Stack, discord_settings: DiscordSettings, fake_discord: FakeDiscord) -> Iterator[DiscordSurface]:
    surface = start_bot(clean_stack, discord_settings)
    yield surface
    surface.stop()


@pytest.fixture
def endpoint_bot(
    clean_stack: Stack, fake_discord: FakeDiscord, discord_settings: DiscordSettings
) -> Iterator[DiscordSurface]:
    """A bot that also serves the HTTP interactions endpoint (the workers' REST client keeps `discord_settings`)."""
    settings = discord_settings_for(fake_discord, interactions_port=0, public_key=fake_discord.public_key)
    surface = start_bot(clean_stack, settings)
    yield surface
    surface.stop()
