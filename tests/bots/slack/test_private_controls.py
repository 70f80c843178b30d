"""Controls on private answers through the fake Slack: an answer sent through a response_url (a draft
from the shortcut) carries Stop while it is written, then 👍/👎 and Regenerate, and they work when
pressed on the ephemeral message, which Slack knows only by the press's response_url."""

from __future__ import annotations

from itertools import count
from typing import Any

from bots.slack.controls import FEEDBACK_ACTION, REGENERATE_ACTION, STOP_ACTION
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_commands import responses, shortcut_payload
from tests.bots.slack.test_controls import ALICE, BOB, LONG
from tests.bots.slack.test_conversations import CHANNEL
from tests.fixtures.fake_slack import TEAM
from tests.helpers import disconnected, messages, settle


def ask_for_a_draft(run: Running) -> str:
    """Alice asks for a draft reply to Bob's message; the hook of the response_url it answers through."""
    ts = run.fake.say(CHANNEL, BOB, "Can you review my PR today?")
    message = {"type": "message", "user": BOB, "text": "Can you review my PR today?", "ts": ts}
    payload = shortcut_payload(run, "llmos_draft_reply", message)
    assert run.http.interaction(payload).status_code == 200
    return str(payload["response_url"]).rsplit("/", 1)[-1]


def elements(sent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons on a message sent to a response_url, by action_id."""
    found = {}
    for block in sent.get("blocks") or []:
        for item in [block.get("accessory") or {}, *block.get("elements", ())]:
            if item.get("action_id"):
                found[item["action_id"]] = item
    return found


def press_on_ephemeral(run: Running, action: dict[str, Any], *, user: str, at: str) -> str:
    """Press a button on an ephemeral message: no `message` in the payload, a response_url of its own."""
    url = run.fake.response_url()
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": f"{at}.1",
        "response_url": url,
        "container": {
            "type": "message",
            "message_ts": "1700000000.000200",
            "channel_id": CHANNEL,
            "is_ephemeral": True,
        },
        "channel": {"id": CHANNEL},
        "actions": [{**action, "action_ts": at}],
    }
    assert run.http.interaction(payload).status_code == 200
    return url.rsplit("/", 1)[-1]


def test_a_private_answer_carries_stop_while_written_then_feedback_and_regenerate(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    hook = ask_for_a_draft(slack)
    working = responses(slack, hook)[0]
    stop = elements(working)[STOP_ACTION]
    assert working["text"] == "_Working on it…_" and working["replace_original"] is False
    press_on_ephemeral(slack, {"action_id": STOP_ACTION, "type": "button", "value": stop["value"]}, user=ALICE, at="2")
    final = responses(slack, hook, 2)[-1]
    assert final["replace_original"] is True and final["text"].endswith("_(Stopped.)_")
    assert disconnected(simulator)
    buttons = elements(final)
    assert set(buttons) == {FEEDBACK_ACTION, REGENERATE_ACTION} and buttons[REGENERATE_ACTION]["value"] == stop["value"]
    assert final["blocks"][0]["text"]["text"] == final["text"]  # the answer, in a section above them
    settle(slack.stack)
    assert messages(slack.stack, "assistant")[0].stopped


def test_regenerate_on_a_private_answer_replaces_it_through_the_presss_response_url(slack: Running, simulator) -> None:
    numbers = count(1)
    simulator.config.answer = lambda msgs: f"Draft {next(numbers)}."
    hook = ask_for_a_draft(slack)
    first = responses(slack, hook, 2)[-1]
    assert first["text"] == "Draft 1."
    settle(slack.stack)
    again = elements(first)[REGENERATE_ACTION]
    action = {"action_id": REGENERATE_ACTION, "type": "button", "value": again["value"]}
    pressed = press_on_ephemeral(slack, action, user=ALICE, at="3")
    note, answer = responses(slack, pressed, 2)
    # Both replace the message the button was on (the old draft), through this press's url.
    assert (note["text"], note["replace_original"]) == ("_Working on it…_", True)
    assert STOP_ACTION in elements(note)
    assert (answer["text"], answer["replace_original"]) == ("Draft 2.", True)
    settle(slack.stack)
    assert len(responses(slack, hook, 2)) == 2  # nothing more went to the old url
    old, new = messages(slack.stack, "assistant")
    assert (old.superseded, new.content) == (True, "Draft 2.")
    rated = elements(answer)[FEEDBACK_ACTION]["positive_button"]["value"]
    thanks = press_on_ephemeral(
        slack, {"action_id": FEEDBACK_ACTION, "type": "feedback_buttons", "value": rated}, user=ALICE, at="4"
    )
    assert responses(slack, thanks)[0]["text"] == "Thanks for the feedback."
