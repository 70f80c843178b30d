"""Conversation controls through the fake Discord: tool progress as a small note, and the Stop button."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.discord.surface import DiscordSurface
from bots.discord.targets import FEEDBACK_ID, REGENERATE_ID, STOP_ID
from db.models import Feedback
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import calls, eventually, replies, wait_done
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Interaction
from tests.helpers import disconnected, messages
from tests.workers.toolscript import call_once, use
from workers.stack import Stack

LONG = " ".join(f"word{i}" for i in range(400))


def test_tool_progress_is_a_note_under_the_answer_and_never_part_of_it(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake, channel = fake_discord, fake_discord.world.random
    use(simulator, call_once("calculate", expression="6 * 7"))
    asked = fake.post(channel, "what is six times seven?", mention=True)
    wait_done(clean_stack, asked["id"], timeout=30)
    (answer,) = replies(fake, asked)
    assert answer["content"] == "The tool said: 6 * 7 = 42" and FEEDBACK_ID in str(answer["components"])
    shown = [c.body["content"] for c in calls(fake, "POST", f"/channels/{channel}/messages") if c.body]
    shown += [c.body["content"] for c in calls(fake, "PATCH", f"/channels/{channel}/messages/{answer['id']}")]
    assert "-# Using the calculator…" in shown
    assert messages(clean_stack, "assistant")[0].content == "The tool said: 6 * 7 = 42"


def stop_button(fake: FakeDiscord, asked: dict[str, Any]) -> tuple[dict[str, Any], str]:
    def found() -> tuple[dict[str, Any], str] | None:
        for part in replies(fake, asked):
            for row in part.get("components") or []:
                for item in row.get("components") or []:
                    if str(item.get("custom_id", "")).startswith(STOP_ID):
                        return part, str(item["custom_id"])
        return None

    return eventually(found, what="a Stop button on the answer")


def said_to(fake: FakeDiscord, pressed: Interaction) -> str:
    def response() -> str | None:
        original = pressed.original
        return fake.run(lambda: fake.world.messages[original]["content"]) if original else None

    return eventually(response, what="the answer to the button")


def streaming(fake: FakeDiscord, simulator) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A long answer streaming in a channel: the question, the answer's part with Stop, its custom_id."""
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    asked = fake.post(fake.world.random, "count for me", mention=True)
    return asked, *stop_button(fake, asked)


def test_stop_mid_stream_aborts_the_engine_and_keeps_the_partial_answer(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    asked, part, custom_id = streaming(fake, simulator)
    pressed = fake.press(part, custom_id, user="alice")
    assert said_to(fake, pressed) == "Stopping the answer."
    assert pressed.ephemeral
    wait_done(clean_stack, asked["id"], timeout=30)
    (answer,) = replies(fake, asked)
    assert answer["content"].startswith("word0 ") and answer["content"].endswith("_(Stopped.)_")
    # The Stop button goes with the stream; 👍/👎 take its place.
    assert "llmos-stop" not in str(answer["components"]) and FEEDBACK_ID in str(answer["components"])
    assert disconnected(simulator)
    assert clean_stack.scheduler.store.running() == {}
    stored = messages(clean_stack, "assistant")[0]
    assert stored.stopped and len(stored.content) < len(LONG)


def test_only_the_asker_or_a_server_manager_may_stop(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    asked, part, custom_id = streaming(fake, simulator)
    refused = fake.press(part, custom_id, user="bob")
    assert said_to(fake, refused) == "Only the person who asked, or an admin, can stop this answer."
    assert said_to(fake, fake.press(part, custom_id, user="admin")) == "Stopping the answer."
    wait_done(clean_stack, asked["id"], timeout=30)
    assert replies(fake, asked)[0]["content"].endswith("_(Stopped.)_")
    late = fake.press(part, custom_id, user="alice")
    assert said_to(fake, late) == "That answer is already finished."


def test_a_stop_for_another_servers_answer_is_refused(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack
) -> None:
    fake = fake_discord
    message = {"id": "1", "channel_id": str(fake.world.random)}
    pressed = fake.press(message, f"{STOP_ID}discord:999:123", user="admin")
    assert said_to(fake, pressed) == "There is no answer of yours to stop here."


def test_a_finished_answer_carries_feedback_buttons_and_keeps_one_rating_per_person(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake, channel = fake_discord, fake_discord.world.random
    simulator.config.answer = lambda msgs: "Paris."
    asked = fake.post(channel, "capital of France?", mention=True)
    wait_done(clean_stack, asked["id"], timeout=30)
    (answer,) = replies(fake, asked)
    ids = [item["custom_id"] for row in answer["components"] for item in row["components"]]
    assert [i.split(":")[1] for i in ids[:2]] == ["up", "down"] and all(i.startswith(FEEDBACK_ID) for i in ids[:2])
    assert ids[2:] == [REGENERATE_ID + ids[0].split(":", 2)[2]]  # Regenerate, beside them
    assert said_to(fake, fake.press(answer, ids[1], user="bob")) == "Thanks for the feedback."
    assert said_to(fake, fake.press(answer, ids[0], user="bob")) == "Thanks for the feedback."
    assert said_to(fake, fake.press(answer, ids[0], user="alice")) == "Thanks for the feedback."
    with clean_stack.sessions() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id)).all()
    assert [(r.rating, r.skill, r.model) for r in rows] == [(1, "ask", "sim-model"), (1, "ask", "sim-model")]
    other = fake.press(answer, f"{FEEDBACK_ID}up:discord:999:1", user="bob")
    assert said_to(fake, other) == "There is no finished answer to rate here."


def test_a_slash_command_answer_is_stopped_through_its_interaction_webhook(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    found = fake.command(slash("ask", question="count for me"), channel=fake.world.general)

    def original() -> dict[str, Any]:
        return dict(fake.run(lambda: fake.world.messages[found.original or 0]))

    def stop_id() -> str | None:
        if found.original is None:
            return None
        ids = [item["custom_id"] for row in original().get("components") or [] for item in row["components"]]
        return next((i for i in ids if i.startswith(STOP_ID)), None)

    custom_id = eventually(stop_id, what="a Stop button on the deferred response")
    assert said_to(fake, fake.press(original(), custom_id, user="alice")) == "Stopping the answer."
    wait_done(clean_stack, found.id, timeout=30)
    shown = original()
    assert shown["content"].endswith("_(Stopped.)_") and FEEDBACK_ID in str(shown["components"])
    assert messages(clean_stack, "assistant")[0].stopped


def test_slash_stop_stops_the_members_own_answer_here(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    asked, _part, _custom_id = streaming(fake, simulator)
    bobs = fake.command(slash("stop"), channel=fake.world.random, user="bob")
    assert said_to(fake, bobs) == "There is no answer of yours to stop here." and bobs.ephemeral
    alices = fake.command(slash("stop"), channel=fake.world.random, user="alice")
    assert said_to(fake, alices) == "Stopping the answer." and alices.ephemeral
    wait_done(clean_stack, asked["id"], timeout=30)
    (answer,) = replies(fake, asked)
    assert answer["content"].endswith("_(Stopped.)_")
    assert disconnected(simulator)
    found = fake.command(slash("help"), channel=fake.world.general)
    wait_done(clean_stack, found.id)
    assert "/stop" in fake.run(lambda: fake.world.messages[found.original or 0]["content"])
