"""A comment on a rating: the "Add a comment" button under the thanks for a 👍/👎, and the modal it opens.

Slack's feedback buttons take no text, so the private thanks carries a button whose value is the
rating and the event's key; it opens a modal (views.open with the press's trigger_id) that keeps
them in its private_metadata, and the modal's view_submission adds the comment to the same rating.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bots.slack.services import Services
from db.feedback import COMMENT_LIMIT
from workers import feedback
from workers.events import Platform

log = logging.getLogger(__name__)

COMMENT_ACTION = "llmos_feedback_comment"
COMMENT_VIEW = "llmos_feedback_comment"
BLOCK, INPUT = "comment", "text"


def thanks_blocks(said: str, *, value: str) -> list[dict[str, Any]]:
    """The private thanks for a rating, and the button that opens the comment modal (`value`: "up:<key>")."""
    button = {
        "type": "button",
        "action_id": COMMENT_ACTION,
        "text": {"type": "plain_text", "text": feedback.ADD_COMMENT},
        "value": value,
    }
    return [{"type": "section", "text": {"type": "mrkdwn", "text": said}}, {"type": "actions", "elements": [button]}]


def comment_modal(value: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": COMMENT_VIEW,
        "private_metadata": value,
        "title": {"type": "plain_text", "text": "Your comment"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": BLOCK,
                "label": {"type": "plain_text", "text": "What was good or wrong about the answer?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": INPUT,
                    "multiline": True,
                    "max_length": COMMENT_LIMIT,
                },
            }
        ],
    }


def said_modal(text: str) -> dict[str, Any]:
    """What the modal shows once sent (it replaces the form)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Your comment"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


class Comments:
    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, app: App) -> None:
        app.action(COMMENT_ACTION)(self.on_add)
        app.view(COMMENT_VIEW)(self.on_submit)

    def on_add(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        value = str((body.get("actions") or [{}])[0].get("value") or "")
        try:
            client.views_open(trigger_id=body["trigger_id"], view=comment_modal(value))
        except SlackApiError as exc:
            log.warning("could not open the comment modal: %s", exc.response.get("error"))

    def on_submit(self, ack: Ack, view: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        rating, _, key = str(view.get("private_metadata") or "").partition(":")
        field = view.get("state", {}).get("values", {}).get(BLOCK, {}).get(INPUT, {})
        said = feedback.comment(
            self._s.sessions,
            platform=str(Platform.SLACK),
            tenant=str(context.team_id or context.enterprise_id or ""),
            key=key,
            user=str(body.get("user", {}).get("id") or ""),
            rating=feedback.UP if rating == "up" else feedback.DOWN,
            text=str(field.get("value") or ""),
        )
        ack(response_action="update", view=said_modal(said))
