"""Help on Discord names what Discord takes: its registered slash commands with their options, the
message menus, mentions for the skills without a command, and the server admin's /admin."""

from __future__ import annotations

from bots.discord import commands
from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import answer_text, eventually, replies, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from workers.guides import DISCORD_COMMANDS


def _said(fake: FakeDiscord, found) -> str:
    return fake.run(lambda: fake.world.messages[found.original]["content"])


def test_the_guide_knows_exactly_the_registered_commands() -> None:
    registered = {c["name"] for c in commands.definitions() if c["type"] == commands.CHAT_INPUT}
    assert registered - {"admin"} == DISCORD_COMMANDS


def test_help_lists_what_discord_takes(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    found = fake.command(slash("help"), channel=fake.world.general)
    wait_done(clean_stack, found.id)
    said = _said(fake, found)
    assert "• /translate language: text:" in said and "• /summarize [count:]" in said
    assert "• @LLMOS /draft" in said and "• @LLMOS /minutes" in said and "• /draft" not in said
    assert "Apps menu: Translate" in said and "/admin" in said
    shown = fake.command(slash("prefs"), channel=fake.world.general)
    wait_done(clean_stack, shown.id)
    prefs = _said(fake, shown)
    assert "the server's" in prefs and "workspace" not in prefs
    assert prefs.endswith("Change one with /prefs action:set key:<key> value:<value>.")


def test_a_bare_mention_gets_a_short_pointer_not_the_help(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    bare = fake.post(fake.world.general, "", mention=True)
    eventually(lambda: replies(fake, bare), what="the pointer")
    assert answer_text(fake, bare).startswith("Ask me something after the mention, or use /help")
