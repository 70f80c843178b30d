"""Regenerate through the fake Discord: the button beside 👍/👎 asks the question again with the context it
had; a channel answer is edited in place, and both answers keep their feedback."""

from __future__ import annotations

import dataclasses
from itertools import count
from typing import Any

from sqlalchemy import select

from bots.discord.surface import DiscordSurface
from bots.discord.targets import FEEDBACK_ID, REGENERATE_ID
from db import events
from db.models import Feedback
from engine.simulator import SimulatedEngine
from tests.bots.discord.commands import slash
from tests.bots.discord.helpers import calls, eventually, replies, wait_done
from tests.bots.discord.test_controls import said_to
from tests.fixtures.discord_fake import FakeDiscord
from tests.fixtures.discord_fake.world import Interaction
from tests.helpers import messages, settle
from tests.workers.test_ledger import later, reconciler
from workers import regenerating
from workers.events import Event
from workers.intake import submit
from workers.regenerating import AGAIN, MESSAGES, Verdict
from workers.stack import Stack
from workers.stopping import Asker


def buttons(part: dict[str, Any]) -> list[str]:
    return [item["custom_id"] for row in part.get("components") or [] for item in row["components"]]


def numbered_answers(simulator: SimulatedEngine) -> None:
    numbers = count(1)
    simulator.config.answer = lambda msgs: f"Answer {next(numbers)}."


def answered_mention(
    fake: FakeDiscord, channel: int, stack: Stack, simulator: SimulatedEngine
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A member's mention and LLMOS's answer to it ("Answer 1.", the next one "Answer 2.")."""
    numbered_answers(simulator)
    asked = fake.post(channel, "name a colour", mention=True)
    wait_done(stack, asked["id"], timeout=30)
    (answer,) = replies(fake, asked)
    return asked, answer


def test_regenerate_edits_the_answer_in_place_and_keeps_both(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake, channel = fake_discord, fake_discord.world.random
    asked, answer = answered_mention(fake, channel, clean_stack, simulator)
    ids = buttons(answer)
    assert answer["content"] == "Answer 1." and ids[-1].startswith(REGENERATE_ID)
    up, down, again = ids
    assert said_to(fake, fake.press(answer, down, user="alice")) == "Thanks for the feedback."

    refused = fake.press(answer, again, user="bob")
    assert said_to(fake, refused) == "Only the person who asked, or an admin, can regenerate this answer."
    assert said_to(fake, fake.press(answer, again, user="alice")) == "Asking again…"

    def regenerated() -> dict[str, Any] | None:
        parts = replies(fake, asked)
        done = len(parts) == 1 and parts[0]["content"] == "Answer 2." and buttons(parts[0])
        return parts[0] if done else None

    shown = eventually(regenerated, timeout=30, what="the regenerated answer in the old message")
    settle(clean_stack)
    assert shown["id"] == answer["id"]
    new_up = next(i for i in buttons(shown) if i.startswith(FEEDBACK_ID + "up:"))
    assert new_up != up
    assert said_to(fake, fake.press(shown, new_up, user="alice")) == "Thanks for the feedback."

    assert simulator.requests[0].body["messages"] == simulator.requests[1].body["messages"]
    assert [m.content for m in messages(clean_stack, "user")] == ["name a colour"]
    old, new = messages(clean_stack, "assistant")
    assert (old.content, old.superseded, new.content, new.superseded) == ("Answer 1.", True, "Answer 2.", False)
    with clean_stack.sessions() as session:
        ratings = {f.message_id: f.rating for f in session.scalars(select(Feedback))}
    assert ratings == {old.id: -1, new.id: 1}
    stale = fake.press(shown, again, user="admin")
    assert said_to(fake, stale) == "That answer was already regenerated; regenerate the newest one."


def test_a_slash_commands_answer_is_regenerated_as_the_buttons_own_response(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    numbered_answers(simulator)
    found = fake.command(slash("ask", question="name a colour"), channel=fake.world.general)
    wait_done(clean_stack, found.id, timeout=30)
    first = dict(fake.run(lambda: fake.world.messages[found.original or 0]))
    again = next(i for i in buttons(first) if i.startswith(REGENERATE_ID))
    pressed = fake.press(first, again, user="alice")
    wait_done(clean_stack, f"{found.id}{AGAIN}1", timeout=30)

    def response() -> dict[str, Any] | None:
        shown = fake.run(lambda: fake.world.messages.get(pressed.original or 0))
        return dict(shown) if shown and shown.get("content") == "Answer 2." else None

    shown = eventually(response, timeout=20, what="the regenerated answer as the press's response")
    assert any(i.startswith(FEEDBACK_ID) for i in buttons(shown))
    old, new = messages(clean_stack, "assistant")
    assert (old.superseded, new.superseded, new.content) == (True, False, "Answer 2.")


def told(fake: FakeDiscord, pressed: Interaction) -> str:
    """What a press's response finally shows: its own message, or the private note that replaced it."""

    def shown() -> str:
        if pressed.followups:
            return str(fake.world.messages[pressed.followups[0]]["content"])
        message = fake.world.messages.get(pressed.original or 0)
        return str(message["content"]) if message and message.get("content") else ""

    return eventually(lambda: fake.run(shown), timeout=20, what="the press's response")


def test_two_presses_of_regenerate_at_once_make_one_new_answer(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake = fake_discord
    numbered_answers(simulator)
    simulator.config.inter_token = 0.05
    found = fake.command(slash("ask", question="name a colour"), channel=fake.world.general)
    wait_done(clean_stack, found.id, timeout=30)
    first = dict(fake.run(lambda: fake.world.messages[found.original or 0]))
    again = next(i for i in buttons(first) if i.startswith(REGENERATE_ID))
    presses = [fake.press(first, again, user="alice"), fake.press(first, again, user="alice")]
    wait_done(clean_stack, f"{found.id}{AGAIN}1", timeout=30)
    settle(clean_stack)
    # One press's response carries the new answer; the other is told it is on its way.
    assert sorted(told(fake, pressed) for pressed in presses) == ["Answer 2.", MESSAGES[Verdict.REGENERATING]]
    assert len(simulator.requests) == 2
    assert [m.content for m in messages(clean_stack, "assistant")] == ["Answer 1.", "Answer 2."]


def test_a_regeneration_taken_over_by_another_worker_edits_the_same_message(
    bot: DiscordSurface, fake_discord: FakeDiscord, clean_stack: Stack, simulator
) -> None:
    fake, channel = fake_discord, fake_discord.world.random
    asked, answer = answered_mention(fake, channel, clean_stack, simulator)
    old_key = next(i for i in buttons(answer) if i.startswith(REGENERATE_ID)).removeprefix(REGENERATE_ID)
    # Regenerate, as the button asks it; the worker that takes it starts in the old message and dies.
    asker = Asker(platform="discord", tenant=str(fake.world.guild_id), user=asked["author"]["id"])
    found = regenerating.again(clean_stack.sessions, key=old_key, asker=asker)
    assert isinstance(found, Event)
    found = dataclasses.replace(found, args={**found.args, "replaces": answer["id"]})
    submit(found, sessions=clean_stack.sessions, enqueue=lambda _event: None)
    with clean_stack.sessions.begin() as session:
        assert isinstance(events.claim(session, key=found.key, owner="dead-worker", max_attempts=3), events.Claimed)
    dead = clean_stack.sinks.for_event(found)
    clean_stack.leases.set_reply(found.key, dead.start(resume_ref=answer["id"]))
    dead.append("Half an ans")
    eventually(lambda: replies(fake, asked)[0]["content"] == "Half an ans", what="the dead worker's text")
    posts = len(calls(fake, "POST", f"/channels/{channel}/messages"))

    assert reconciler(clean_stack) is not None
    later(clean_stack, clean_stack.settings.event_lease_seconds + 1)
    wait_done(clean_stack, found.message_id, timeout=30)
    (shown,) = replies(fake, asked)
    assert shown["id"] == answer["id"] and shown["content"] == "Answer 2."
    assert len(calls(fake, "POST", f"/channels/{channel}/messages")) == posts  # nothing posted anew
    settle(clean_stack)
    old, new = messages(clean_stack, "assistant")
    assert (old.superseded, new.content, new.event_key) == (True, "Answer 2.", found.key)
