"""`/llmos admin ...`: what a workspace admin sets for everyone — channel prompts, access rules, rate.

Slack decides who is an admin: users.info's `is_admin`, `is_owner` or `is_primary_owner`, asked
afresh for every admin command. The commands themselves are the shared ones (`bots.core.admin`);
this module reads them from the command's text and writes Slack's mentions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import BoltContext, Respond

from bots.core import admin
from bots.slack.people import People
from db.access import Subject
from workers import memory_commands
from workers.events import Platform
from workers.tools import admin as tools_admin

log = logging.getLogger(__name__)

USAGE = "\n".join(
    [
        "LLMOS settings for workspace admins:",
        "• `/llmos admin prompt` — show this channel's system prompt",
        "• `/llmos admin prompt <instructions>` — set it (`/llmos admin prompt clear` removes it)",
        "• `/llmos admin allow @someone #channel …` — once anyone is allowed, only those allowed may use LLMOS",
        "• `/llmos admin block @someone #channel …` — keep them from using LLMOS",
        "• `/llmos admin remove @someone #channel …` — drop their rules",
        "• `/llmos admin rules` — list the rules",
        "• `/llmos admin rate <n>` — requests one person may make per minute here (`0`: the default)",
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
    """How Slack writes a user or channel in a message."""
    return f"<@{ident}>" if subject is Subject.USER else f"<#{ident}>"


class Admin:
    def __init__(self, *, sessions: Any, people: People, rate_ceiling: int | None = None) -> None:
        self._sessions = sessions
        self._people = people
        # The deployment's per-user rate: a workspace's admins may lower it, not raise it.
        self._ceiling = rate_ceiling

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
        tenancy = admin.Tenancy(platform=str(Platform.SLACK), id=team)
        answer = self._answer(tenancy, verb, rest.strip(), channel=channel)
        log.info("slack admin %s in %s ran `admin %s`", user, team, verb)
        respond(answer)

    def _answer(self, tenancy: admin.Tenancy, verb: str, rest: str, *, channel: str) -> str:
        sessions = self._sessions
        if verb == "prompt":
            clear = rest.lower() == "clear"
            return admin.channel_prompt(
                sessions,
                tenancy=tenancy,
                channel=channel,
                text=None if clear or not rest else rest,
                clear=clear,
                where=label(Subject.CHANNEL, channel),
            )
        if verb in set(admin.Change):
            return admin.change_access(
                sessions, tenancy=tenancy, change=admin.Change(verb), named=targets(rest), label=label
            )
        if verb == "rules":
            return admin.list_access(sessions, tenancy=tenancy, label=label)
        if verb == "tools":
            return tools_admin.run_for(
                sessions, platform=Platform.SLACK, tenant=tenancy.id, name=tenancy.name, text=rest
            )
        if verb == "memory":
            return memory_commands.run_channel_for(
                sessions,
                platform=Platform.SLACK,
                tenant=tenancy.id,
                channel=channel,
                names=(tenancy.name, ""),
                text=rest,
            )
        if verb == "rate" and rest.isascii() and rest.isdigit() and len(rest) <= 6:
            return admin.rate_limit(sessions, tenancy=tenancy, per_minute=int(rest), ceiling=self._ceiling)
        return USAGE
