"""Slack message text as the model should read it, and threads or channels fetched as transcripts.

Slack escapes `&`, `<`, `>` and writes mentions as `<@U123>`: the model gets the plain text with
`@Name` instead, and the bot's own mention removed from a question addressed to it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient

from bots.slack.mrkdwn import escape, unescape
from bots.slack.people import People
from workers.events import Quoted

log = logging.getLogger(__name__)

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
# Message subtypes that are people talking; the rest are joins, topics, edits and deletions.
SPOKEN_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
ASSISTANT_NAME = "assistant"
# The header LLMOS posts over its public answer to `/llmos …`: who asked what (the answer is in its thread).
HEADER_CHARS = 300
_HEADER = re.compile(r"<@([UW][A-Z0-9]+)> asked: `(/llmos .*)`", re.DOTALL)
# How many pages of history a summary reads at most to find its `n` messages.
HISTORY_PAGES = 5


class Reader:
    def __init__(self, *, client: WebClient, people: People, team: str, bot_user_id: str | None) -> None:
        self._client = client
        self._people = people
        self._team = team
        self._bot = bot_user_id

    @property
    def bot_user_id(self) -> str | None:
        return self._bot

    def name_of(self, user: str) -> str:
        return self._people.get(self._client, team=self._team, user=user).name or user

    def mentions(self, text: str) -> set[str]:
        return set(_MENTION.findall(text))

    def plain(self, text: str) -> str:
        def name(match: re.Match[str]) -> str:
            user = match.group(1)
            if user == self._bot:
                return ""
            return "@" + (self._people.get(self._client, team=self._team, user=user).name or user)

        text = _MENTION.sub(name, text)
        text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})" if m.group(2) else m.group(1), text)
        text = _CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
        return re.sub(r"[ \t]{2,}", " ", unescape(text)).strip()

    def quoted(self, messages: Sequence[Mapping[str, Any]]) -> tuple[Quoted, ...]:
        return tuple(self._quote(message) for message in messages if said(message))

    def _quote(self, message: Mapping[str, Any]) -> Quoted:
        """A message as the model reads it; LLMOS's "asked:" header is the asker's own question."""
        text = str(message["text"])
        asked = _HEADER.fullmatch(text) if self._bot and message.get("user") == self._bot else None
        if asked is not None:
            return Quoted(author=self.name_of(asked.group(1)), text=self.plain(asked.group(2)))
        return Quoted(author=self._author(message), text=self.plain(text))

    def _author(self, message: Mapping[str, Any]) -> str:
        user = message.get("user")
        if user and user == self._bot:
            return ASSISTANT_NAME
        if message.get("bot_id") or not user:
            profile = message.get("bot_profile") or {}
            return str(message.get("username") or profile.get("name") or "a bot")
        return self._people.get(self._client, team=self._team, user=str(user)).name or str(user)

    def thread(self, *, channel: str, thread_ts: str, until: str | None = None, limit: int = 200) -> tuple[Quoted, ...]:
        """The thread's messages, oldest first, up to and including `until`."""
        messages: list[Mapping[str, Any]] = []
        cursor = None
        while len(messages) < limit:
            page = self._client.conversations_replies(channel=channel, ts=thread_ts, limit=200, cursor=cursor)
            messages += page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        if until is not None:
            messages = [m for m in messages if float(m.get("ts", 0)) <= float(until)]
        return self.quoted(messages[-limit:])

    def channel(self, *, channel: str, limit: int, before: str | None = None) -> tuple[Quoted, ...]:
        """The channel's last `limit` messages people wrote before `before`, oldest first.

        Joins, topic changes and other apps' posts do not count: `summarize 5` reads five messages.
        """
        kept: list[Mapping[str, Any]] = []
        latest = before
        for _ in range(HISTORY_PAGES):
            page = self._client.conversations_history(channel=channel, limit=min(limit, 200), latest=latest)
            found = list(page.get("messages") or [])
            kept += [m for m in found if said(m)]
            if len(kept) >= limit or len(found) < min(limit, 200):
                break
            latest = str(found[-1]["ts"])  # newest first: carry on before the oldest one seen
        return self.quoted(list(reversed(kept[:limit])))


def asked_header(user: str, text: str) -> str:
    """The public line a `/llmos` answer is posted under, naming who asked what."""
    return f"<@{user}> asked: `/llmos {escape(text)[:HEADER_CHARS]}`"


def said(message: Mapping[str, Any]) -> bool:
    """A message someone wrote, with text: not a join, a topic change, an edit or a deletion."""
    return message.get("subtype") in SPOKEN_SUBTYPES and bool(message.get("text"))
