"""`/llmos admin ...`: what a workspace admin sets for everyone — channel prompts and access rules.

Slack decides who is an admin: users.info's `is_admin`, `is_owner` or `is_primary_owner`, asked
afresh for every admin command. The settings land in the platform-neutral tables the task path
already reads: the channel-level preference `system_prompt` and the tenant's allow/block rules.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import BoltContext, Respond

from bots.slack.people import People
from db import access, directory, preferences
from db.access import Effect, Subject
from db.preferences import Scope
from workers import memory_commands
from workers.events import Platform
from workers.tools import admin as tools_admin

log = logging.getLogger(__name__)

PROMPT_LIMIT = 2000
USAGE = "\n".join(
    [
        "LLMOS settings for workspace admins:",
        "• `/llmos admin prompt` — show this channel's system prompt",
        "• `/llmos admin prompt <instructions>` — set it (`/llmos admin prompt clear` removes it)",
        "• `/llmos admin allow @someone #channel …` — once anyone is allowed, only those allowed may use LLMOS",
        "• `/llmos admin block @someone #channel …` — keep them from using LLMOS",
        "• `/llmos admin remove @someone #channel …` — drop their rules",
        "• `/llmos admin rules` — list the rules",
        "• `/llmos admin tools [off|on <tool> …]` — list or switch off the tools the assistant may use",
        "• `/llmos admin memory [<fact> | forget <n>|all]` — what every answer in this channel keeps in mind",
    ]
)
_TARGET = re.compile(r"<([@#])([A-Z0-9]+)(?:\|[^>]*)?>|\b([UWCGD][A-Z0-9]{6,})\b")


def targets(text: str) -> list[tuple[Subject, str]]:
    """Users and channels named in a command: escaped mentions (<@U…>, <#C…>) or bare ids."""
    found = []
    for sigil, escaped, bare in _TARGET.findall(text):
        ident = escaped or bare
        is_user = sigil == "@" or (not sigil and ident[0] in "UW")
        found.append((Subject.USER if is_user else Subject.CHANNEL, ident))
    return found


def label(subject: Subject, ident: str) -> str:
    return f"<@{ident}>" if subject is Subject.USER else f"<#{ident}>"


class Admin:
    def __init__(self, *, sessions: Any, people: People) -> None:
        self._sessions = sessions
        self._people = people

    def is_admin(self, context: BoltContext, user: str) -> bool:
        team = str(context.team_id or context.enterprise_id or "")
        self._people.forget(team=team, user=user)
        assert context.client is not None
        return self._people.get(context.client, team=team, user=user).admin

    def run(self, text: str, *, command: dict[str, Any], context: BoltContext, respond: Respond) -> None:
        user, channel = str(command["user_id"]), str(command["channel_id"])
        if not self.is_admin(context, user):
            respond("Only workspace admins and owners can change LLMOS's settings.")
            return
        verb, _, rest = text.partition(" ")
        team = str(context.team_id or context.enterprise_id or "")
        with self._sessions.begin() as session:
            tenant_id = directory.tenant(session, platform=Platform.SLACK, external_id=team).id
            if verb == "prompt":
                answer = self._prompt(session, tenant_id, channel, rest.strip())
            elif verb in {"allow", "block", "remove"}:
                answer = self._rule(session, tenant_id, verb, targets(rest))
            elif verb == "rules":
                answer = self._rules(session, tenant_id)
            elif verb == "tools":
                answer = tools_admin.run(session, tenant_id=tenant_id, text=rest)
            elif verb == "memory":
                row = directory.channel(session, tenant_id=tenant_id, external_id=channel)
                session.flush()
                answer = memory_commands.run_channel(session, tenant_id=tenant_id, channel_id=row.id, text=rest)
            else:
                answer = USAGE
        log.info("slack admin %s in %s ran `admin %s`", user, team, verb)
        respond(answer)

    @staticmethod
    def _prompt(session: Any, tenant_id: int, channel: str, text: str) -> str:
        row = directory.channel(session, tenant_id=tenant_id, external_id=channel)
        session.flush()
        if not text:
            current = preferences.at_level(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id)
            prompt = current.get("system_prompt")
            return f"This channel's system prompt:\n> {prompt}" if prompt else "This channel has no system prompt."
        if text.lower() == "clear":
            preferences.unset(session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id, key="system_prompt")
            return "Removed this channel's system prompt."
        if len(text) > PROMPT_LIMIT:
            return f"That prompt has {len(text)} characters; keep it under {PROMPT_LIMIT}."
        preferences.set_value(
            session, tenant_id=tenant_id, scope=Scope.CHANNEL, channel_id=row.id, key="system_prompt", value=text
        )
        return f"Saved. In <#{channel}> LLMOS now follows:\n> {text}"

    @staticmethod
    def _rule(session: Any, tenant_id: int, verb: str, named: list[tuple[Subject, str]]) -> str:
        if not named:
            return f"Name who or where: `/llmos admin {verb} @someone #channel`."
        lines = []
        for subject, ident in named:
            if verb == "remove":
                gone = access.remove_rule(session, tenant_id=tenant_id, subject_type=subject, subject=ident)
                lines.append(f"{label(subject, ident)}: {'rule removed' if gone else 'had no rule'}")
            else:
                effect = Effect.ALLOW if verb == "allow" else Effect.BLOCK
                access.set_rule(session, tenant_id=tenant_id, subject_type=subject, subject=ident, effect=effect)
                lines.append(f"{label(subject, ident)}: {effect}ed")
        if verb == "allow":
            lines.append("Only allowed users and channels of those kinds may use LLMOS now.")
        return "\n".join(lines)

    @staticmethod
    def _rules(session: Any, tenant_id: int) -> str:
        rules = access.rules(session, tenant_id=tenant_id)
        if not rules:
            return "No rules: everyone in this workspace may use LLMOS."
        return "\n".join(f"• {label(subject, ident)} — {effect}" for subject, ident, effect in rules)
