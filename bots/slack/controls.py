"""The controls on a Slack answer: Stop while it streams, then 👍/👎, and what pressing them does.

Slack's streamed messages take no blocks until they stop, so Stop sits in a small message just under
the answer, posted with its first text and deleted when it ends. The finished answer then carries
Slack's feedback buttons (the pattern Slack gives AI apps): given to chat.stopStream, or added to
the last message where the answer was shown by editing. Stop can also be typed: `/llmos stop`, or
"stop" said to LLMOS where it answers (`stop_typed`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond

from bots.slack.admin import Admin
from bots.slack.comments import thanks_blocks
from bots.slack.ref import ReplyMode, SlackRef
from bots.slack.services import Services
from workers import feedback, regenerating
from workers.events import Event, Platform
from workers.intake import hand_over
from workers.stopping import MESSAGES, Asker, Verdict, ask_to_stop, stop_latest

log = logging.getLogger(__name__)

STOP_ACTION = "llmos_stop"
FEEDBACK_ACTION = "llmos_feedback"
REGENERATE_ACTION = "llmos_regenerate"
ANSWERING = "Answering…"


def stop_blocks(key: str, *, note: str = f"_{ANSWERING}_") -> list[dict[str, Any]]:
    """The message under a streaming answer: a short note and its Stop button (the value is the event)."""
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": note},
            "accessory": {
                "type": "button",
                "action_id": STOP_ACTION,
                "text": {"type": "plain_text", "text": "Stop"},
                "style": "danger",
                "value": key,
            },
        }
    ]


def feedback_blocks(key: str) -> list[dict[str, Any]]:
    """Slack's feedback buttons for the answer to event `key` (each button's value names the rating), and
    Regenerate beside them."""
    return [
        {
            "type": "context_actions",
            "elements": [
                {
                    "type": "feedback_buttons",
                    "action_id": FEEDBACK_ACTION,
                    "positive_button": {
                        "text": {"type": "plain_text", "text": "👍"},
                        "accessibility_label": "This answer was helpful",
                        "value": f"up:{key}",
                    },
                    "negative_button": {
                        "text": {"type": "plain_text", "text": "👎"},
                        "accessibility_label": "This answer was not helpful",
                        "value": f"down:{key}",
                    },
                }
            ],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": REGENERATE_ACTION,
                    "text": {"type": "plain_text", "text": "Regenerate"},
                    "value": key,
                }
            ],
        },
    ]


def stop_typed(services: Services, *, team: str, channel: str, user: str, thread: str | None = None) -> Verdict:
    """`/llmos stop`, or "stop" said to LLMOS: stop this person's own newest answer in the channel (or
    in `thread` of it)."""
    if services.leases is None:
        return Verdict.UNKNOWN
    asker = Asker(platform=str(Platform.SLACK), tenant=team, user=user)
    verdict = stop_latest(services.sessions, services.leases, asker=asker, channel=channel, thread=thread)
    log.info("slack user %s in %s typed stop in %s: %s", user, team, channel, verdict)
    return verdict


def privately_again(event: Event, *, response_url: str) -> Event:
    """A private answer (through a response_url) has no message ts to edit: its regeneration answers
    through this press's own response_url, which replaces the message the button was on."""
    old = SlackRef.from_mapping(event.ref)
    if old.mode is not ReplyMode.EPHEMERAL or not response_url:
        return event
    args = {name: value for name, value in event.args.items() if name != "replaces"}
    ref = dataclasses.replace(old, response_url=response_url)
    return dataclasses.replace(event, args=args, ref=ref.to_dict())


class Controls:
    def __init__(self, services: Services, admin: Admin) -> None:
        self._s = services
        self._admin = admin

    def register(self, app: App) -> None:
        app.action(STOP_ACTION)(self.on_stop)
        app.action(FEEDBACK_ACTION)(self.on_feedback)
        app.action(REGENERATE_ACTION)(self.on_regenerate)

    def on_stop(self, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        key = str((body.get("actions") or [{}])[0].get("value") or "")
        user = str(body.get("user", {}).get("id") or "")
        team = str(context.team_id or context.enterprise_id or "")
        if self._s.leases is None or not key:
            verdict = Verdict.UNKNOWN
        else:
            asker = Asker(
                platform=str(Platform.SLACK), tenant=team, user=user, admin=lambda: self._admin.is_admin(context, user)
            )
            verdict = ask_to_stop(self._s.sessions, self._s.leases, key=key, asker=asker)
        log.info("slack user %s in %s pressed Stop on %s: %s", user, team, key, verdict)
        if verdict is not Verdict.STOPPING:
            respond(text=MESSAGES[verdict], response_type="ephemeral", replace_original=False)

    def on_feedback(self, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        ack()
        rating, _, key = str((body.get("actions") or [{}])[0].get("value") or "").partition(":")
        user = str(body.get("user", {}).get("id") or "")
        said = feedback.give(
            self._s.sessions,
            platform=str(Platform.SLACK),
            tenant=str(context.team_id or context.enterprise_id or ""),
            key=key,
            user=user,
            rating=feedback.UP if rating == "up" else feedback.DOWN,
        )
        # A comment is offered with the thanks (bots/slack/comments.py).
        blocks = thanks_blocks(said, value=f"{rating}:{key}") if said == feedback.THANKS else None
        respond(text=said, blocks=blocks, response_type="ephemeral", replace_original=False)

    def on_regenerate(self, ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        """Ask the answer again; the new one is streamed into the message that carried the button."""
        ack()
        action = (body.get("actions") or [{}])[0]
        key = str(action.get("value") or "")
        user = str(body.get("user", {}).get("id") or "")
        team = str(context.team_id or context.enterprise_id or "")
        asker = Asker(
            platform=str(Platform.SLACK), tenant=team, user=user, admin=lambda: self._admin.is_admin(context, user)
        )
        found = regenerating.again(
            self._s.sessions,
            key=key,
            asker=asker,
            replaces=str(body.get("container", {}).get("message_ts") or "") or None,
        )
        log.info("slack user %s in %s pressed Regenerate on %s: %s", user, team, key, getattr(found, "key", found))
        if not isinstance(found, Event):
            respond(text=regenerating.MESSAGES[found], response_type="ephemeral", replace_original=False)
            return
        found = privately_again(found, response_url=str(body.get("response_url") or ""))
        handed = hand_over(found, sessions=self._s.sessions, enqueue=self._s.enqueue)
        if handed.turned is not None:
            respond(text=handed.message, response_type="ephemeral", replace_original=False)
