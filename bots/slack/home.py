"""The App Home tab: a person's preferences at a glance, and a modal to change them.

The modal checks every value with the same rules as `/llmos prefs set` (`workers.commands.PREF_KEYS`)
and shows a problem next to its field, the way Slack modals do, before anything is saved.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bots.core import admin as core_admin
from bots.slack.admin import label
from bots.slack.messages import tenant_of
from bots.slack.services import Services
from db import directory, preferences
from db import slack as slack_db
from db.preferences import Scope
from workers.commands import LENGTHS, PREF_KEYS
from workers.events import Platform

log = logging.getLogger(__name__)

EDIT_ACTION = "llmos_edit_prefs"
MODAL = "llmos_prefs"
DEFAULT = "default"
TEXT_LIMITS = {"persona": 500, "language": 40, "model": 128}


def _block(key: str) -> str:
    return f"pref_{key}"


def home_view(prefs: dict[str, str], *, admin: bool, rules: str) -> dict[str, Any]:
    lines = [f"• *{key}*: {prefs.get(key, '_default_')} — {spec.description}" for key, spec in PREF_KEYS.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "LLMOS"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Mention me in a channel, message me here, or use `/llmos help`. "
                "In a thread I'm part of, just keep talking.",
            },
        },
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Your preferences*\n" + "\n".join(lines)}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": EDIT_ACTION,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Change preferences"},
                }
            ],
        },
    ]
    if admin:
        blocks += [
            {"type": "divider"},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*Workspace admin*\n{rules}\n"
                    "Set a channel's system prompt or the rules with `/llmos admin` (`/llmos admin help`).",
                },
            },
        ]
    return {"type": "home", "blocks": blocks}


def _text_input(key: str, label: str, value: str | None, *, multiline: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": TEXT_LIMITS[key],
    }
    if value:
        element["initial_value"] = value
    return {
        "type": "input",
        "block_id": _block(key),
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": PREF_KEYS[key].description[:150]},
        "element": element,
    }


def prefs_modal(prefs: dict[str, str]) -> dict[str, Any]:
    choices = [DEFAULT, *LENGTHS]
    options = [{"text": {"type": "plain_text", "text": name.capitalize()}, "value": name} for name in choices]
    length: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options}
    length["initial_option"] = options[choices.index(prefs["length"]) if prefs.get("length") in LENGTHS else 0]
    return {
        "type": "modal",
        "callback_id": MODAL,
        "title": {"type": "plain_text", "text": "Your preferences"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _text_input("persona", "Persona", prefs.get("persona"), multiline=True),
            _text_input("language", "Language", prefs.get("language")),
            {
                "type": "input",
                "block_id": _block("length"),
                "label": {"type": "plain_text", "text": "Answer length"},
                "element": length,
            },
            _text_input("model", "Model", prefs.get("model")),
        ],
    }


def submitted(values: dict[str, Any]) -> dict[str, str]:
    """The fields the modal has; an empty one (or "default") means: no preference of my own.

    A preference the modal does not show (reasoning) is left as it is.
    """
    found = {}
    for key in PREF_KEYS:
        if _block(key) not in values:
            continue
        field = values[_block(key)].get("value", {})
        value = (field.get("selected_option") or {}).get("value") if "selected_option" in field else field.get("value")
        found[key] = "" if value in (None, DEFAULT) else str(value).strip()
    return found


class Home:
    def __init__(self, services: Services) -> None:
        self._s = services

    def register(self, app: App) -> None:
        app.event("app_home_opened")(self.on_opened)
        app.action(EDIT_ACTION)(self.on_edit)
        app.view(MODAL)(self.on_submit)

    def on_opened(self, event: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        if event.get("tab") == "home":
            self.publish(client, team=tenant_of(context), user=str(event["user"]))

    def on_edit(self, ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        ack()
        prefs = self._prefs(tenant_of(context), str(body["user"]["id"]))
        client.views_open(trigger_id=body["trigger_id"], view=prefs_modal(prefs))

    def on_submit(self, ack: Ack, view: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
        values = submitted(view["state"]["values"])
        models = self._s.models()
        errors = {}
        for key, value in values.items():
            problem = PREF_KEYS[key].check(value, models) if value else None
            if problem:
                errors[_block(key)] = problem[0].upper() + problem[1:] + "."
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        team, user = tenant_of(context), str(body["user"]["id"])
        self._save(team, user, values)
        assert context.client is not None
        self.publish(context.client, team=team, user=user)

    def publish(self, client: WebClient, *, team: str, user: str) -> None:
        admin = self._s.people.get(client, team=team, user=user).admin
        # The same words as `/llmos admin rules`.
        tenancy = core_admin.Tenancy(platform=str(Platform.SLACK), id=team)
        rules = core_admin.list_access(self._s.sessions, tenancy=tenancy, label=label) if admin else ""
        try:
            client.views_publish(user_id=user, view=home_view(self._prefs(team, user), admin=admin, rules=rules))
        except SlackApiError as exc:
            log.warning("could not publish the App Home of %s: %s", user, exc)

    def _prefs(self, team: str, user: str) -> dict[str, str]:
        with self._s.sessions() as session:
            return slack_db.user_preferences(session, team=team, user=user)

    def _save(self, team: str, user: str, values: dict[str, str]) -> None:
        with self._s.sessions.begin() as session:
            tenant_id = directory.tenant(session, platform=Platform.SLACK, external_id=team).id
            session.flush()
            user_id = directory.user(session, tenant_id=tenant_id, external_id=user).id
            session.flush()
            for key, value in values.items():
                if value:
                    preferences.set_value(
                        session, tenant_id=tenant_id, scope=Scope.USER, user_id=user_id, key=key, value=value
                    )
                else:
                    preferences.unset(session, tenant_id=tenant_id, scope=Scope.USER, user_id=user_id, key=key)
        log.info("slack user %s in %s saved preferences from App Home", user, team)
