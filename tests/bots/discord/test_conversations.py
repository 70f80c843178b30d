"""Who the bot answers and which conversation a message continues: mentions, replies, reply chains,
threads and DMs, with and without the message-content intent."""

from __future__ import annotations

import time

from bots.discord.surface import DiscordSurface
from tests.bots.discord.conftest import start_bot
from tests.bots.discord.helpers import answer_text, calls, conversations, event_status, replies, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from workers.stack import Stack


def test_a_mention_is_answered_in_a_reply_and_stored(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    simulator.config.answer = lambda msgs: "Paris is the capital of France."
    asked = fake.post(fake.world.general, "What is the capital of France?", mention=True)
    wait_done(clean_stack, asked["id"])
    parts = replies(fake, asked)
    assert [p["content"] for p in parts] == ["Paris is the capital of France."]
    # The mention is not part of the question the model sees.
    assert simulator.requests[-1].body["messages"][-1]["content"] == "What is the capital of France?"
    assert conversations(clean_stack) == [asked["id"]]
    with clean_stack.sessions() as session:
        from db.models import Tenant

        tenant = session.query(Tenant).one()
        assert (tenant.platform, tenant.external_id, tenant.name) == (
            "discord",
            str(fake.world.guild_id),
            "Test Server",
        )


def test_a_message_not_for_the_bot_is_left_alone(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    fake = fake_discord
    ignored = fake.post(fake.world.general, "just chatting among humans")
    asked = fake.post(fake.world.general, "are you there?", mention=True)
    wait_done(clean_stack, asked["id"])
    time.sleep(0.2)
    assert event_status(clean_stack, ignored["id"]) is None
    assert replies(fake, ignored) == []


def test_replying_to_the_answer_continues_the_conversation(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    first = fake.post(fake.world.general, "My name is Ada.", mention=True)
    wait_done(clean_stack, first["id"])
    answer = replies(fake, first)[-1]
    # A reply without a mention (Discord still pings the bot as the replied-to author).
    follow = fake.post(fake.world.general, "What is my name?", reply_to=answer)
    wait_done(clean_stack, follow["id"])
    sent = simulator.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "My name is Ada."
    assert conversations(clean_stack) == [first["id"]]
    assert answer_text(fake, follow) == "You said: What is my name?"


def test_a_reply_chain_survives_a_bot_restart(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, discord_settings, simulator
):
    fake = fake_discord
    first = fake.post(fake.world.general, "Remember the number 42.", mention=True)
    wait_done(clean_stack, first["id"])
    second = fake.post(fake.world.general, "And also 7.", reply_to=replies(fake, first)[-1])
    wait_done(clean_stack, second["id"])
    bot.stop()
    restarted = start_bot(clean_stack, discord_settings)
    try:
        fetched_before = len(calls(fake, "GET", "/messages/"))
        third = fake.post(fake.world.general, "Which numbers?", reply_to=replies(fake, second)[-1])
        wait_done(clean_stack, third["id"])
        # The new process knew nothing: it walked the chain up through the REST API.
        assert len(calls(fake, "GET", "/messages/")) > fetched_before
        assert conversations(clean_stack) == [first["id"]]
        contents = [m["content"] for m in simulator.requests[-1].body["messages"]]
        assert contents[1:] == [
            "Remember the number 42.",
            "You said: Remember the number 42.",
            "And also 7.",
            "You said: And also 7.",
            "Which numbers?",
        ]
    finally:
        restarted.stop()


def test_a_question_about_someone_elses_message_quotes_it(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    said = fake.post(fake.world.general, "The deploy failed with error 42.", user="bob")
    asked = fake.post(fake.world.general, "what does this mean?", mention=True, reply_to=said)
    wait_done(clean_stack, asked["id"])
    question = simulator.requests[-1].body["messages"][-1]["content"]
    assert question == 'Bob wrote: "The deploy failed with error 42."\n\nwhat does this mean?'
    assert conversations(clean_stack) == [said["id"]]


def test_the_bots_own_thread_continues_without_mentions(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    thread = fake.world.bot_thread
    first = fake.post(thread, "Let us plan a trip to Rome.")
    wait_done(clean_stack, first["id"])
    second = fake.post(thread, "How many days?")
    wait_done(clean_stack, second["id"])
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user", "assistant", "user"]
    assert conversations(clean_stack) == [f"thread:{thread}"]
    assert replies(fake, second)[0]["channel_id"] == str(thread)


def test_a_thread_of_others_needs_a_mention_first(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    fake = fake_discord
    thread = fake.world.add_thread(fake.world.general, "side talk", owner=fake.world.user_id("bob"), joined=False)
    ignored = fake.post(thread, "nobody asked the bot")
    invited = fake.post(thread, "please help here", mention=True)
    wait_done(clean_stack, invited["id"])
    assert event_status(clean_stack, ignored["id"]) is None
    # Once the bot talks in the thread, the thread is the conversation: no mention needed.
    after = fake.post(thread, "and one more thing")
    wait_done(clean_stack, after["id"])
    assert conversations(clean_stack) == [f"thread:{thread}"]


def test_direct_messages_continue_without_mentions(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    dm = fake.world.dm_with("alice")
    first = fake.post(dm, "hello privately")
    wait_done(clean_stack, first["id"])
    second = fake.post(dm, "still me")
    wait_done(clean_stack, second["id"])
    assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user", "assistant", "user"]
    assert answer_text(fake, second) == "You said: still me"
    with clean_stack.sessions() as session:
        from db.models import Tenant

        assert session.query(Tenant.external_id).scalar() == f"dm:{fake.world.user_id('alice')}"


def test_without_the_message_content_intent_mentions_and_dms_still_work(
    fake_discord: FakeDiscord, clean_stack: Stack, discord_settings
):
    fake = fake_discord
    fake.world.deny_message_content = True
    syncs = fake.world.command_syncs
    surface = start_bot(clean_stack, discord_settings)
    try:
        assert fake.world.command_syncs == syncs + 1, "commands registered once, not again on the second login"
        # Discord refused the privileged intent (4014); the bot identified again without it.
        assert int(fake.identifies[-2]["intents"]) & (1 << 15)
        assert not int(fake.identifies[-1]["intents"]) & (1 << 15)
        assert "no message-content intent" in surface.describe()
        asked = fake.post(fake.world.general, "can you hear me?", mention=True)
        wait_done(clean_stack, asked["id"])
        assert answer_text(fake, asked) == "You said: can you hear me?"
        dm = fake.post(fake.world.dm_with("bob"), "and in private?", user="bob")
        wait_done(clean_stack, dm["id"])
        # In its own thread a message without a mention arrives without text: nothing to answer.
        blank = fake.post(fake.world.bot_thread, "no mention here")
        time.sleep(0.3)
        assert event_status(clean_stack, blank["id"]) is None
    finally:
        surface.stop()


def test_a_message_delivered_twice_is_answered_once(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack):
    """Discord may deliver an event again (a replay after RESUME): the second copy changes nothing."""
    fake = fake_discord
    asked = fake.post(fake.world.general, "only once please", mention=True)
    wait_done(clean_stack, asked["id"])
    fake.run(lambda: fake.dispatch("MESSAGE_CREATE", asked))
    again = fake.post(fake.world.general, "a later question", mention=True)
    wait_done(clean_stack, again["id"])
    assert len(replies(fake, asked)) == 1
    assert conversations(clean_stack) == [asked["id"], again["id"]]
