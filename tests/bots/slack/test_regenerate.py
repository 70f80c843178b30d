"""Regenerate through the fake Slack: the button beside 👍/👎 asks the question again with the context it had,
the new answer is streamed into the old answer's message, and both answers keep their feedback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import count
from threading import Barrier
from typing import Any

from sqlalchemy import select

from bots.slack.controls import FEEDBACK_ACTION, REGENERATE_ACTION
from db.models import Feedback
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_controls import ADA, ALICE, BOB, click
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.fixtures.fake_slack_api import Message
from tests.helpers import messages, settle


def element(message: Message, action_id: str) -> dict[str, Any]:
    for block in message.blocks:
        for found in block.get("elements", ()):
            if found.get("action_id") == action_id:
                return dict(found)
    raise AssertionError(f"no {action_id} on {message.blocks}")


def regenerate_button(message: Message) -> dict[str, Any]:
    return element(message, REGENERATE_ACTION)


def rate(run: Running, message: Message, *, user: str, positive: bool) -> None:
    """Press 👍 or 👎 wherever the answer's message carries them (after a section, once edited)."""
    value = element(message, FEEDBACK_ACTION)["positive_button" if positive else "negative_button"]["value"]
    click(run, message, {"action_id": FEEDBACK_ACTION, "type": "feedback_buttons", "value": value}, user=user)


def press_regenerate(run: Running, message: Message, *, user: str, at: str) -> None:
    value = regenerate_button(message)["value"]
    click(run, message, {"action_id": REGENERATE_ACTION, "type": "button", "value": value, "action_ts": at}, user=user)


def test_regenerate_replaces_the_answer_in_place_and_keeps_both(slack: Running, simulator) -> None:
    slack.fake.add_user(ADA, "ada", admin=True)
    numbers = count(1)
    simulator.config.answer = lambda msgs: f"Answer {next(numbers)}."
    ts = mention(slack, "Name a colour.")["ts"]
    slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    (shown,) = slack.fake.replies(CHANNEL, ts)
    assert shown.markdown == "Answer 1." and FEEDBACK_ACTION in str(shown.blocks)
    old_key = regenerate_button(shown)["value"]
    rate(slack, shown, user=ALICE, positive=False)
    slack.fake.wait_for(lambda: slack.fake.responses)

    press_regenerate(slack, shown, user=BOB, at="2")
    refusal = slack.fake.wait_for(lambda: slack.fake.responses[1:])[0][1]
    assert refusal["text"] == "Only the person who asked, or an admin, can regenerate this answer."
    assert refusal["response_type"] == "ephemeral"

    press_regenerate(slack, shown, user=ALICE, at="3")
    again: Message = slack.fake.wait_for(
        lambda: next((m for m in slack.fake.replies(CHANNEL, ts) if m.text == "Answer 2." and m.blocks), None)
    )
    settle(slack.stack)
    assert again.ts == shown.ts  # the old answer's message, edited
    assert [m.ts for m in slack.fake.replies(CHANNEL, ts)] == [shown.ts]  # Stop's message is gone
    new_key = regenerate_button(again)["value"]
    assert new_key != old_key
    rate(slack, again, user=ALICE, positive=True)
    slack.fake.wait_for(lambda: slack.fake.responses[2:])

    # The engine was asked the same thing twice; the question was stored once.
    assert simulator.requests[0].body["messages"] == simulator.requests[1].body["messages"]
    assert [m.content for m in messages(slack.stack, "user")] == ["Name a colour."]
    old, new = messages(slack.stack, "assistant")
    assert (old.content, old.superseded, old.event_key) == ("Answer 1.", True, old_key)
    assert (new.content, new.superseded, new.event_key) == ("Answer 2.", False, new_key)
    with slack.stack.sessions() as session:
        ratings = {f.message_id: f.rating for f in session.scalars(select(Feedback))}
    assert ratings == {old.id: -1, new.id: 1}

    # The superseded answer cannot be asked again; an admin may regenerate Alice's newest one.
    click(
        slack,
        again,
        {"action_id": REGENERATE_ACTION, "type": "button", "value": old_key, "action_ts": "4"},
        user=ALICE,
    )
    stale = slack.fake.wait_for(lambda: slack.fake.responses[3:])[0][1]
    assert stale["text"] == "That answer was already regenerated; regenerate the newest one."
    press_regenerate(slack, again, user=ADA, at="5")
    slack.fake.wait_for(lambda: next((m for m in slack.fake.replies(CHANNEL, ts) if m.text == "Answer 3."), None))
    settle(slack.stack)
    # A follow-up in the thread sees only the newest answer.
    assert [m.content for m in messages(slack.stack, "assistant") if not m.superseded] == ["Answer 3."]


def test_two_presses_of_regenerate_at_once_make_one_new_answer(slack: Running, simulator) -> None:
    numbers = count(1)
    simulator.config.answer = lambda msgs: f"Answer {next(numbers)}."
    simulator.config.inter_token = 0.05
    ts = mention(slack, "Name a colour.")["ts"]
    slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    (shown,) = slack.fake.replies(CHANNEL, ts)
    value = regenerate_button(shown)["value"]
    ready = Barrier(2)

    def press(at: str) -> None:
        ready.wait()
        action = {"action_id": REGENERATE_ACTION, "type": "button", "value": value, "action_ts": at}
        click(slack, shown, action, user=ALICE)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(press, ["2", "3"]))
    slack.fake.wait_for(lambda: next((m for m in slack.fake.replies(CHANNEL, ts) if m.text == "Answer 2."), None))
    settle(slack.stack)
    assert len(simulator.requests) == 2  # the engine was asked again once
    old, new = messages(slack.stack, "assistant")
    assert (old.superseded, new.content, new.superseded) == (True, "Answer 2.", False)
    # A later press on the new answer is a new regeneration, not the first one seen again.
    press_regenerate(slack, slack.fake.replies(CHANNEL, ts)[0], user=ALICE, at="4")
    slack.fake.wait_for(lambda: next((m for m in slack.fake.replies(CHANNEL, ts) if m.text == "Answer 3."), None))
    settle(slack.stack)
    assert [m.content for m in messages(slack.stack, "assistant")] == ["Answer 1.", "Answer 2.", "Answer 3."]
