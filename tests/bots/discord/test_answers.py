"""How answers reach Discord from the workers: typing, streamed edits at the channel's pace, a 429 in
the middle, 2000-character parts with intact code blocks, failures, files and redelivery."""

from __future__ import annotations

import re

from bots.discord.sink import DiscordReplies
from bots.discord.surface import DiscordSurface
from bots.discord.targets import FEEDBACK_ID
from tests.bots.discord.conftest import EDIT_INTERVAL
from tests.bots.discord.helpers import answer_text, calls, eventually, replies, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Fault
from workers.events import Event, Platform
from workers.replybus import MemoryReplyBus

WORDS = " ".join(f"word{i}" for i in range(60))


def test_an_answer_streams_as_paced_edits_after_the_typing_indicator(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake, channel = fake_discord, fake_discord.world.random
    simulator.config.answer = lambda msgs: WORDS
    simulator.config.inter_token = 0.03
    asked = fake.post(channel, "count for me", mention=True)
    wait_done(clean_stack, asked["id"])
    typing = calls(fake, "POST", f"/channels/{channel}/typing")
    created = [c for c in calls(fake, "POST", f"/channels/{channel}/messages") if c.body["content"]]
    assert typing and created and typing[0].at < created[-1].at
    message = replies(fake, asked)[0]
    edits = calls(fake, "PATCH", f"/channels/{channel}/messages/{message['id']}")
    assert len(edits) >= 3, "the answer grew in several edits"
    assert message["content"] == WORDS
    shown = [created[-1].body["content"], *(e.body["content"] for e in edits)]
    if len(shown) > 1 and shown[-1] == shown[-2]:
        # The whole text was shown before the answer ended: the last edit only swaps Stop for feedback.
        assert FEEDBACK_ID in str(edits[-1].body.get("components")), "a repeated text only to swap the buttons"
        shown.pop()
    assert all(WORDS.startswith(text) for text in shown) and len(set(shown)) == len(shown)
    gaps = [b.at - a.at for a, b in zip([created[-1], *edits], edits, strict=False)]
    assert min(gaps) >= EDIT_INTERVAL * 0.9, f"edits faster than one per {EDIT_INTERVAL}s: {gaps}"


def test_a_429_in_the_middle_is_waited_out_and_the_answer_completes(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake, channel = fake_discord, fake_discord.world.random
    simulator.config.answer = lambda msgs: WORDS
    simulator.config.inter_token = 0.03
    fake.run(lambda: fake.world.faults.append(Fault("PATCH", f"/channels/{channel}/messages/", retry_after=0.6)))
    asked = fake.post(channel, "count again", mention=True)
    wait_done(clean_stack, asked["id"])
    message = replies(fake, asked)[0]
    edits = calls(fake, "PATCH", f"/channels/{channel}/messages/{message['id']}")
    limited = [i for i, e in enumerate(edits) if e.status == 429]
    assert len(limited) == 1 and limited[0] < len(edits) - 1
    # discord.py waited for the bucket's retry_after before trying again.
    assert edits[limited[0] + 1].at - edits[limited[0]].at >= 0.6
    assert message["content"] == WORDS


CODE = "```python\n" + "\n".join(f"print('line_{i:03d}_of_a_long_listing')" for i in range(120)) + "\n```"


def _fences_balanced(part: str) -> bool:
    return len(re.findall(r"^```", part, flags=re.MULTILINE)) % 2 == 0


def test_a_long_answer_is_split_at_2000_characters_without_breaking_code(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    answer = "Here is the listing:\n\n" + CODE + "\n\n" + "That is all." * 40
    simulator.config.answer = lambda msgs: answer
    asked = fake.post(fake.world.general, "show me the code", mention=True)
    wait_done(clean_stack, asked["id"])
    parts = [p["content"] for p in replies(fake, asked)]
    assert len(parts) >= 3
    assert all(len(p) <= 2000 for p in parts)
    assert all(_fences_balanced(p) for p in parts)
    # A part cut inside the code block closes it, and the next one reopens it with its language.
    assert parts[0].endswith("```") and parts[1].startswith("```python\n")
    joined = "\n".join(parts).replace("\n```\n```python\n", "\n")
    assert joined.replace("\n", "") == answer.replace("\n", "")


def test_when_the_engine_is_down_the_user_gets_a_short_message(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator
):
    fake = fake_discord
    simulator.config.mode = "unavailable"
    asked = fake.post(fake.world.general, "hello?", mention=True)
    wait_done(clean_stack, asked["id"], status="failed")
    text = answer_text(fake, asked)
    assert text.startswith("Sorry, the language engine is not answering right now. Your message is saved")
    # Nothing was lost: the question is stored and can be answered again later.
    from tests.helpers import messages

    assert [m.content for m in messages(clean_stack, "user")] == ["hello?"]


def test_a_text_file_is_read_and_limits_are_told(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator, discord_settings
):
    fake = fake_discord
    big = b"x" * (discord_settings.max_text_bytes + 1)
    files = [
        ("notes.md", b"# Plan\nShip on Friday.", "text/markdown"),
        ("huge.log", big, "text/plain"),
        ("archive.zip", b"PK\x03\x04", "application/zip"),
    ]
    asked = fake.post(fake.world.general, "summarise my notes", mention=True, files=files)
    wait_done(clean_stack, asked["id"])
    question = simulator.requests[-1].body["messages"][-1]["content"]
    assert question == "summarise my notes\n\n[file notes.md]\n# Plan\nShip on Friday."
    text = answer_text(fake, asked)
    assert "-# I did not read huge.log (256 KB): text files up to 256 KB." in text
    assert (
        "-# I cannot read archive.zip (application/zip): I read PDF, Word, PowerPoint and Excel files, "
        "text files and images." in text
    )


def test_an_image_goes_to_a_vision_model(bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack, simulator):
    fake = fake_discord
    clean_stack.settings.vision_models = "*"
    try:
        asked = fake.post(
            fake.world.general, "what is this?", mention=True, files=[("cat.png", b"\x89PNG", "image/png")]
        )
        wait_done(clean_stack, asked["id"])
    finally:
        clean_stack.settings.vision_models = ""
    content = simulator.requests[-1].body["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "what is this?"}
    assert content[1]["type"] == "image_url" and content[1]["image_url"]["url"].endswith("-cat.png")


def test_a_redelivered_answer_edits_the_messages_already_posted(
    fake_discord: FakeDiscord, clean_stack, discord_replies: DiscordReplies
):
    """A worker died mid-answer: the next delivery takes over its messages instead of posting again."""
    fake = fake_discord
    asked = fake.post(fake.world.random, "long story please")
    event = Event(
        platform=Platform.DISCORD,
        tenant=str(fake.world.guild_id),
        channel=str(fake.world.random),
        thread=asked["id"],
        user=asked["author"]["id"],
        message_id=asked["id"],
        text="long story please",
        ref={"mode": "channel", "channel_id": str(fake.world.random), "guild_id": None, "reply_to": asked["id"]},
    )
    first = discord_replies.sink(event)
    ref = first.start(resume_ref=None)
    first.append("Once upon a time " + "and then " * 300)
    eventually(lambda: len(replies(fake, asked)) == 2, what="two parts posted")
    # The worker dies here. Redelivered, the task resumes with the saved handle.
    posts = len(calls(fake, "POST", "/messages"))
    second = discord_replies.sink(event)
    assert second.start(resume_ref=ref) == ref
    second.finish("Once upon a time, the end.")
    assert len(calls(fake, "POST", "/messages")) == posts
    parts = replies(fake, asked)
    assert [p["content"] for p in parts] == ["Once upon a time, the end."]


def test_the_workers_rest_client_closes_cleanly_and_logs_in_again_when_needed(
    fake_discord: FakeDiscord, discord_settings
):
    replies = DiscordReplies(settings=discord_settings, bus=MemoryReplyBus())
    first = replies.rest()
    assert replies.rest() is first, "one logged-in client per worker process"
    logins = len(calls(fake_discord, "GET", "/users/@me"))
    replies.close()
    assert first.closed
    second = replies.rest()
    assert second is not first and not second.closed
    assert len(calls(fake_discord, "GET", "/users/@me")) == logins + 1
    replies.close()
    assert second.closed
