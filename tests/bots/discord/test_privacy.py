"""What only the member who asked sees, and what the channel sees: context menus and refusals are
private where Discord allows, public refusals are rare, and a place the bot cannot use says so."""

from __future__ import annotations

from bots.discord.surface import DiscordSurface
from tests.bots.discord.commands import admin, on_message, slash
from tests.bots.discord.helpers import calls, eventually, replies, wait_done
from tests.bots.discord.test_admin import _run
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Fault, Interaction

BLOCKED = "Sorry, this user is blocked from using the assistant."


def _shown(fake: FakeDiscord, found: Interaction) -> list[dict]:
    """The interaction's messages that still exist: its response, then its follow-ups."""
    ids = [i for i in (found.original, *found.followups) if i is not None]
    return fake.run(lambda: [dict(fake.world.messages[i]) for i in ids if i in fake.world.messages])


def test_context_menus_answer_only_the_member_who_clicked(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    said = fake.post(fake.world.general, "Das Treffen ist um drei.", user="bob")
    for menu in ("Translate", "Summarize"):
        clicked = fake.command(on_message(menu, said), channel=fake.world.general)
        wait_done(clean_stack, clicked.id)
        assert clicked.ephemeral
        assert _shown(fake, clicked)[0]["content"].startswith("You said: ")


def test_a_refused_slash_command_leaves_nothing_in_public(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    _run(fake, clean_stack, admin("access", "block", user=fake.world.user_id("alice")))
    found = fake.command(slash("ask", question="please?"), channel=fake.world.general)
    fake.wait_for(lambda: found.followups, what="the private refusal")
    shown = _shown(fake, found)
    assert [m["content"] for m in shown] == [BLOCKED] and shown[0]["flags"] & 64
    assert simulator.requests == []


def test_a_blocked_member_gets_one_public_refusal_however_often_they_ask(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    _run(fake, clean_stack, admin("access", "block", user=fake.world.user_id("alice")))
    asked = [fake.post(fake.world.general, f"let me in {n}", mention=True) for n in range(4)]
    told = lambda: [r["content"] for message in asked for r in replies(fake, message)]  # noqa: E731
    eventually(told, what="the refusal")
    allowed = fake.post(fake.world.general, "hello", mention=True, user="bob")
    wait_done(clean_stack, allowed["id"])
    assert told() == [BLOCKED]


def test_summarize_where_the_bot_may_not_read_names_the_permission(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    closed = fake.world.add_channel("closed")
    fake.run(lambda: fake.world.faults.append(Fault("GET", f"/channels/{closed}/messages", status=403)))
    found = fake.command(slash("summarize"), channel=closed)
    eventually(lambda: _shown(fake, found) and "Read Message History" in _shown(fake, found)[0]["content"])
    assert simulator.requests == []


def test_a_mention_where_the_bot_may_not_post_is_answered_in_a_direct_message(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    closed = fake.world.add_channel("read-only")
    for path in (f"/channels/{closed}/typing", f"/channels/{closed}/messages"):
        fake.run(lambda path=path: fake.world.faults.append(Fault("POST", path, status=403, times=3)))
    dm = fake.run(lambda: fake.world.dm_with("alice"))
    before = len(fake.run(lambda: fake.world.in_channel(dm)))
    fake.post(closed, "what is new?", mention=True)
    told = eventually(lambda: fake.run(lambda: fake.world.in_channel(dm)[before:]), what="a direct message")
    assert told[0]["content"].startswith(f"I cannot post in <#{closed}>")
    assert simulator.requests == [] and calls(fake, "POST", f"/channels/{closed}/messages") == []


def test_a_long_channel_prompt_is_confirmed_and_shown_in_parts(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    prompt = ("Answer as a careful reviewer. " * 70)[:1990]
    for data in (admin("prompt", "set", text=prompt), admin("prompt", "show")):
        found = fake.command(data, channel=fake.world.general, user="admin")
        fake.wait_for(lambda found=found: found.followups, what="the rest of the prompt")
        shown = _shown(fake, found)
        assert all(len(m["content"]) <= 2000 and m["flags"] & 64 for m in shown)
        assert prompt.split()[-1] in shown[-1]["content"]


def test_translate_is_told_one_language(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    saved = fake.command(slash("prefs", action="set", key="language", value="French"), channel=fake.world.general)
    wait_done(clean_stack, saved.id)
    said = fake.post(fake.world.general, "See you tomorrow.", user="bob")
    asks = (
        slash("translate", language="German", text="good morning"),
        on_message("Translate", said),
    )
    for data in asks:
        found = fake.command(data, channel=fake.world.general, locale="de")
        wait_done(clean_stack, found.id)
        system, asked = (m["content"] for m in simulator.requests[-1].body["messages"])
        assert "French" not in system and asked.startswith("Translate the following text into German.")


def test_a_rate_limited_member_is_told_once_not_per_message(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    _run(fake, clean_stack, admin("ratelimit", per_minute=1))
    first = fake.post(fake.world.general, "one", mention=True)
    wait_done(clean_stack, first["id"])
    later = [fake.post(fake.world.general, f"again {n}", mention=True) for n in range(3)]
    told = lambda: [r["content"] for message in later for r in replies(fake, message)]  # noqa: E731
    eventually(told, what="the limit notice")
    allowed = fake.post(fake.world.general, "hello", mention=True, user="bob")
    wait_done(clean_stack, allowed["id"])
    assert len(told()) == 1 and told()[0].startswith("Sorry, you have reached the limit of 1 requests per minute.")
    _run(fake, clean_stack, admin("ratelimit", per_minute=0))
