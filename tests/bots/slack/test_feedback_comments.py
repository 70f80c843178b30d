"""A comment on a rating through the fake Slack: the private thanks for 👍/👎 carries "Add a comment",
which opens a modal (views.open with the press's trigger_id) whose view_submission joins the rating."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bots.slack.comments import COMMENT_ACTION
from db.models import Feedback
from tests.bots.slack.conftest import Running
from tests.bots.slack.test_controls import BOB, press_feedback
from tests.bots.slack.test_conversations import CHANNEL, mention
from tests.fixtures.fake_slack import TEAM
from tests.helpers import settle


def press_add_comment(run: Running, thanks: dict[str, Any], *, user: str, trigger: str) -> None:
    """Press the button on the private thanks: an ephemeral message, known to Slack by its response_url."""
    (button,) = thanks["blocks"][1]["elements"]
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": trigger,
        "response_url": run.fake.response_url(),
        "container": {
            "type": "message",
            "message_ts": "1700000000.000100",
            "channel_id": CHANNEL,
            "is_ephemeral": True,
        },
        "channel": {"id": CHANNEL},
        "actions": [{"action_id": button["action_id"], "type": "button", "value": button["value"], "action_ts": "9"}],
    }
    assert run.http.interaction(payload).status_code == 200


def send_comment(run: Running, modal: dict[str, Any], *, user: str, text: str) -> dict[str, Any]:
    """Fill in the modal and press Send: the view_submission Slack posts; the app's answer to it."""
    state = {
        "values": {
            block["block_id"]: {block["element"]["action_id"]: {"type": "plain_text_input", "value": text}}
            for block in modal["blocks"]
        }
    }
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0LLMOS",
        "trigger_id": "77.88",
        "view": {"id": "V0MODAL", "team_id": TEAM, **modal, "state": state},
    }
    response = run.http.interaction(payload)
    assert response.status_code == 200
    return dict(json.loads(response.text))


def test_a_comment_after_a_rating_joins_it_through_a_modal(slack: Running, simulator) -> None:
    simulator.config.answer = lambda msgs: "Paris."
    ts = mention(slack, "Capital of France?")["ts"]
    answer = slack.fake.answer(CHANNEL, ts)
    settle(slack.stack)
    press_feedback(slack, answer, user=BOB, positive=False)
    thanks = slack.fake.wait_for(lambda: slack.fake.responses)[0][1]
    assert (
        thanks["text"] == "Thanks for the feedback."
        and thanks["blocks"][1]["elements"][0]["action_id"] == COMMENT_ACTION
    )
    press_feedback(slack, answer, user=BOB, positive=True)  # Bob changes his mind before commenting
    slack.fake.wait_for(lambda: slack.fake.responses[1:])

    press_add_comment(slack, thanks, user=BOB, trigger="55.66")
    opened = slack.fake.wait_for(lambda: slack.fake.calls_to("views.open"))[0].args
    assert opened["trigger_id"] == "55.66"
    answered = send_comment(slack, opened["view"], user=BOB, text="Right, but say why.")
    assert answered["response_action"] == "update"
    assert answered["view"]["blocks"][0]["text"]["text"] == "Thanks, your comment is kept with your rating."
    with slack.stack.sessions() as session:
        (row,) = session.scalars(select(Feedback)).all()
    assert (row.rating, row.comment) == (1, "Right, but say why.")
