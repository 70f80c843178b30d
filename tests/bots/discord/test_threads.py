"""Threads with several members: the bot answers what is asked of it, and the model is told who said
what, with names where the text had mentions and without Discord's own notices."""

from __future__ import annotations

from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import event_status, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake import payloads as p


def test_in_its_thread_the_bot_leaves_thanks_and_words_to_others_alone(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    thread = fake.world.add_thread(fake.world.general, "trip", owner=fake.world.bot_id, joined=True)
    asked = fake.post(thread, "Plan a day in Rome.")
    wait_done(clean_stack, asked["id"])
    bob = fake.world.user_id("bob")
    left = [
        fake.post(thread, "thanks!"),
        fake.post(thread, f"<@{bob}> can you book the hotel?"),
        fake.post(thread, "sure, on it", user="bob", reply_to=asked),
    ]
    follow = fake.post(thread, "And what about dinner?", user="bob")
    wait_done(clean_stack, follow["id"])
    assert [event_status(clean_stack, m["id"]) for m in left] == [None, None, None]
    # Two members talk with the bot here: each turn says who spoke.
    turns = [(m["role"], m["content"]) for m in simulator.requests[-1].body["messages"][1:]]
    assert turns[0] == ("user", "Alice: Plan a day in Rome.")
    assert turns[-1] == ("user", "Bob: And what about dinner?")


def test_summaries_show_names_and_leave_out_discords_notices(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    channel = fake.world.add_channel("planning")
    bob = fake.world.user_id("bob")
    fake.post(channel, f"<@{bob}> will write the notes.")

    def notice() -> None:
        w = fake.world
        created = p.message(ident=p.snowflake(), channel_id=channel, author=w.users["alice"], content="notes")
        w.store({**created, "type": 18})  # "Alice started a thread: notes"

    fake.run(notice)
    fake.post(channel, "Agreed.", user="bob")
    found = fake.command(slash("summarize", count=5), channel=channel)
    wait_done(clean_stack, found.id)
    prompt = simulator.requests[-1].body["messages"][-1]["content"]
    assert prompt.endswith("Alice: @Bob will write the notes.\nBob: Agreed.")
