"""Slash and context-menu commands over the gateway: deferred within 3 seconds, answered by the worker
through the interaction's webhook, registered once."""

from __future__ import annotations

from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import on_message, slash
from tests.bots.discord.helpers import answer_text, eventually, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Interaction
from tests.workers.toolscript import call_once, tool_messages, use


def _original(fake: FakeDiscord, found: Interaction) -> dict:
    assert found.original is not None
    return fake.run(lambda: dict(fake.world.messages[found.original]))


def _prompt(simulator) -> str:
    return simulator.requests[-1].body["messages"][-1]["content"]


def test_ask_is_deferred_at_once_then_answered_by_the_worker(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    found = fake.command(slash("ask", question="What is 2+2?"), channel=fake.world.general)
    wait_done(clean_stack, found.id)
    assert found.response_type == 5 and not found.ephemeral
    assert found.responded_at is not None and found.responded_at - found.dispatched_at < 3.0
    original = _original(fake, found)
    assert original["content"] == "You said: What is 2+2?"
    assert not original["flags"] & 128, "no longer shown as thinking"


def test_commands_are_registered_once_not_on_every_ready(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    fake = fake_discord
    syncs = fake.world.command_syncs
    names = {c["name"]: c for c in fake.world.commands}
    assert {"ask", "summarize", "translate", "prefs", "forget", "usage", "help", "Summarize", "Translate"} <= set(names)
    assert names["Summarize"]["type"] == 3 and names["admin"]["default_member_permissions"] == str(1 << 5)
    resumes = fake.resumes
    fake.drop_gateway()
    eventually(lambda: fake.resumes > resumes, what="the bot resumed its session")
    asked = fake.post(fake.world.general, "still there after the reconnect?", mention=True)
    wait_done(clean_stack, asked["id"])
    assert fake.world.command_syncs == syncs
    assert fake.heartbeats > 0


def test_summarize_in_a_thread_reads_the_thread(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    thread = fake.world.add_thread(fake.world.general, "release", owner=fake.world.user_id("bob"), joined=False)
    fake.post(thread, "We ship on Friday.", user="bob")
    fake.post(thread, "I will write the release notes.", user="alice")
    found = fake.command(slash("summarize"), channel=thread)
    wait_done(clean_stack, found.id)
    prompt = _prompt(simulator)
    assert prompt.startswith("Summarize the following conversation")
    assert prompt.endswith("Bob: We ship on Friday.\nAlice: I will write the release notes.")


def test_summarize_in_a_channel_takes_the_last_n_messages(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    channel = fake.world.add_channel("summaries")
    for text in ("old news", "first point", "second point"):
        fake.post(channel, text, user="bob")
    found = fake.command(slash("summarize", count=2), channel=channel)
    wait_done(clean_stack, found.id)
    assert _prompt(simulator).endswith("Bob: first point\nBob: second point")


def test_translate_with_options_and_from_the_message_menu(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    found = fake.command(slash("translate", language="French", text="good morning"), channel=fake.world.general)
    wait_done(clean_stack, found.id)
    assert (
        _prompt(simulator)
        == "Translate the following text into French. Reply with the translation only.\n\ngood morning"
    )
    said = fake.post(fake.world.general, "See you tomorrow at the office.", user="bob")
    # The context menu translates into the language of the person who clicked it.
    clicked = fake.command(on_message("Translate", said), channel=fake.world.general, locale="de")
    wait_done(clean_stack, clicked.id)
    assert _prompt(simulator).startswith("Translate the following text into German.")
    assert _prompt(simulator).endswith("\n\nSee you tomorrow at the office.")


def test_summarize_from_the_message_menu(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    said = fake.post(fake.world.general, "Long report: sales grew, costs fell, hiring paused.", user="bob")
    clicked = fake.command(on_message("Summarize", said), channel=fake.world.general)
    wait_done(clean_stack, clicked.id)
    assert _prompt(simulator).endswith("Bob: Long report: sales grew, costs fell, hiring paused.")
    assert _original(fake, clicked)["content"].startswith("You said: Summarize")


def test_personal_commands_answer_privately(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    saved = fake.command(slash("prefs", action="set", key="length", value="short"), channel=fake.world.general)
    wait_done(clean_stack, saved.id)
    assert saved.ephemeral and _original(fake, saved)["content"] == "Saved: length = short."
    helped = fake.command(slash("help"), channel=fake.world.general)
    wait_done(clean_stack, helped.id)
    assert "/summarize [count:]" in _original(fake, helped)["content"]
    used = fake.command(slash("usage"), channel=fake.world.general)
    wait_done(clean_stack, used.id)
    assert _original(fake, used)["content"].startswith("Today: 0 tokens")
    forgot = fake.command(slash("forget"), channel=fake.world.general)
    wait_done(clean_stack, forgot.id)
    assert _original(fake, forgot)["content"].startswith("Done: I deleted")
    assert simulator.requests == []


def test_a_long_command_answer_continues_in_follow_up_messages(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    simulator.config.answer = lambda msgs: "\n".join(
        f"Paragraph {i}: " + "lorem-ipsum-dolor-sit-amet " * 10 for i in range(20)
    )
    found = fake.command(slash("ask", question="write a lot"), channel=fake.world.general)
    wait_done(clean_stack, found.id)
    parts = [_original(fake, found), *(fake.run(lambda: [fake.world.messages[i] for i in found.followups]))]
    assert len(parts) >= 3 and all(0 < len(p["content"]) <= 2000 for p in parts)
    assert parts[-1]["content"].startswith("Paragraph") and parts[-1]["content"].endswith("sit-amet")


def test_a_failure_replaces_the_deferred_answer(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    simulator.config.mode = "unavailable"
    found = fake.command(slash("ask", question="anyone?"), channel=fake.world.general)
    wait_done(clean_stack, found.id, status="failed")
    assert _original(fake, found)["content"].startswith("Sorry, the language engine is not answering")


def test_memories_through_slash_commands(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    saved = fake.command(slash("remember", fact="I work nights"), channel=fake.world.general)
    wait_done(clean_stack, saved.id)
    assert saved.ephemeral and _original(fake, saved)["content"].startswith("I will remember: I work nights")
    listed = fake.command(slash("memories"), channel=fake.world.general)
    wait_done(clean_stack, listed.id)
    assert "1. I work nights" in _original(fake, listed)["content"]
    asked = fake.command(slash("ask", question="when should we meet?"), channel=fake.world.general)
    wait_done(clean_stack, asked.id)
    assert "- I work nights" in simulator.requests[-1].body["messages"][0]["content"]
    gone = fake.command(slash("forget-memory", which="all"), channel=fake.world.general)
    wait_done(clean_stack, gone.id)
    assert _original(fake, gone)["content"] == "Done: I forgot all 1 of your memories."


def test_a_tool_answer_through_discord(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    use(simulator, call_once("calculate", expression="99 + 1"))
    asked = fake.post(fake.world.general, "what is 99 plus 1?", mention=True)
    wait_done(clean_stack, asked["id"])
    assert answer_text(fake, asked) == "The tool said: 99 + 1 = 100"
    use(simulator, call_once("search_conversations", query="99 plus"))
    again = fake.post(fake.world.general, "what did I ask before?", mention=True)
    wait_done(clean_stack, again["id"])
    found = tool_messages(simulator)[0]
    guild = fake.run(lambda: fake.world.guild_id)
    assert f"https://discord.com/channels/{guild}/{fake.world.general}/{asked['id']}" in found
