"""Conversations: @mentions, threads LLMOS is part of, direct messages and assistant threads.

One message may reach us twice (as `app_mention` and as `message`, or as a Slack retry): its id is
the channel and `ts`, never the envelope's event id, so the second delivery is not answered again.
Bots (LLMOS included), edits, deletions and joins are never answered, so no two bots can loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Assistant, BoltContext
from slack_bolt.context.set_status import SetStatus
from slack_bolt.context.set_suggested_prompts import SetSuggestedPrompts
from slack_bolt.context.set_title import SetTitle
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bots.slack.controls import stop_typed
from bots.slack.ref import ReplyMode, SlackRef
from bots.slack.services import Services, on_event_acked_when_stored, teller
from bots.slack.transcript import Reader
from db import conversations
from db import events as processed
from db.session import patiently
from workers.events import Event, Kind, Platform, Quoted
from workers.intake import hand_over
from workers.requests import Request, for_someone_else, parse
from workers.stopping import MESSAGES, Verdict, typed_stop

log = logging.getLogger(__name__)

DM_THREAD = "dm"
SPOKEN = frozenset({None, "file_share", "thread_broadcast"})
THINKING = "is thinking…"
LOADING = ["Reading your message…", "Thinking it over…", "Writing the answer…"]
SUGGESTED = [
    {"title": "Explain something", "message": "Explain how HTTPS keeps a connection private, in simple terms."},
    {"title": "Draft a message", "message": "Draft a friendly note telling my team the release moves to Friday."},
    {"title": "Translate", "message": "/translate French Thanks for your help today!"},
    {"title": "What can you do?", "message": "/help"},
]
# Long enough for Slack's second copy of a message (and its retries, within a minute).
STOP_REMEMBERED = 120.0
TRANSCRIPT_KINDS = frozenset({Kind.SUMMARIZE, Kind.MINUTES, Kind.DRAFT})


@dataclass(frozen=True, slots=True)
class _Where:
    channel: str
    ts: str
    thread_ts: str | None
    # The conversation key: the thread's root ts, or one running conversation per DM channel.
    thread: str
    # Where the answer goes: a thread (streamed), or None for the DM itself (posted and updated).
    reply_ts: str | None
    direct: bool
    # LLMOS already took part in this thread.
    known: bool


@dataclass(frozen=True, slots=True)
class HandedOver:
    event: Event
    accepted: bool
    # The thread had no conversation before this message (an assistant thread's first question).
    first: bool


def spoken(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """A person's new message: no bot, no edit or deletion, not LLMOS itself."""
    user = event.get("user")
    return (
        event.get("subtype") in SPOKEN
        and not event.get("bot_id")
        and not event.get("hidden")
        and bool(user)
        and user != bot_user_id
    )


def tenant_of(context: BoltContext) -> str:
    return str(context.team_id or context.enterprise_id or "")


class Conversations:
    def __init__(self, services: Services) -> None:
        self._s = services
        # Typed stops handled lately (message key -> when): Slack sends a mention as app_mention and as
        # message, and a stop is not stored, so the second copy would tell its sender "nothing to stop".
        self._stops: dict[str, float] = {}
        self._stops_lock = threading.Lock()

    def register(self, app: App, assistant: Assistant) -> None:
        assistant.thread_started(self.on_thread_started)
        assistant.user_message(self.on_assistant_message)
        app.use(assistant)
        on_event_acked_when_stored(app, "app_mention", self.on_mention)
        on_event_acked_when_stored(app, "message", self.on_message)

    # -- listeners ----------------------------------------------------------------------------

    def on_mention(self, event: dict[str, Any], context: BoltContext, client: WebClient, ack: Ack) -> None:
        self._patiently(event, context, client, ack)

    def on_message(self, event: dict[str, Any], context: BoltContext, client: WebClient, ack: Ack) -> None:
        self._patiently(event, context, client, ack)

    def _patiently(self, event: dict[str, Any], context: BoltContext, client: WebClient, ack: Ack) -> None:
        # Slack hears 200 only once the event is stored (or was not for LLMOS). A restarting database
        # is waited out; should that take longer than Slack waits, its retry is answered once, as
        # handling is idempotent by the event's key.
        patiently(lambda: self.handle(event, context, client), what=f"slack event {event.get('ts', '?')}")
        ack()

    def on_thread_started(self, set_suggested_prompts: SetSuggestedPrompts) -> None:
        try:
            set_suggested_prompts(prompts=SUGGESTED, title="Ask me anything, or try one of these:")
        except SlackApiError as exc:
            log.warning("could not set suggested prompts: %s", exc)

    def on_assistant_message(
        self,
        payload: dict[str, Any],
        context: BoltContext,
        client: WebClient,
        set_status: SetStatus,
        set_title: SetTitle,
    ) -> None:
        if not spoken(payload, context.bot_user_id):
            return
        if typed_stop(self._reader(context, client).plain(str(payload.get("text") or ""))):
            self.handle(payload, context, client)  # no "thinking" status: nothing new is asked
            return
        # Before the hand-over: a fast answer clears the status, and must not be followed by it.
        self._status(set_status, THINKING, LOADING)
        handed = self.handle(payload, context, client)
        if handed is not None and not handed.accepted:
            self._status(set_status, "", None)  # refused: the explanation is in the thread
        elif handed is not None and handed.first:
            try:
                set_title(handed.event.text[:80] or "New chat")
            except SlackApiError as exc:
                log.info("assistant thread title not set in %s: %s", handed.event.channel, exc)

    @staticmethod
    def _status(set_status: SetStatus, status: str, loading: list[str] | None) -> None:
        try:
            set_status(status=status, loading_messages=loading)
        except SlackApiError as exc:
            log.info("assistant status not set: %s", exc)

    # -- the one path -------------------------------------------------------------------------

    def handle(self, event: Mapping[str, Any], context: BoltContext, client: WebClient) -> HandedOver | None:
        arrived = time.time()
        if not spoken(event, context.bot_user_id):
            return None
        team = tenant_of(context)
        reader = self._reader(context, client)
        where = self._addressed(event, team=team, reader=reader)
        if where is None:
            return None
        key = f"{Platform.SLACK}:{team}:{where.channel}:{where.ts}"
        if typed_stop(reader.plain(str(event.get("text") or ""))):
            if self._first_stop(key, now=arrived):
                self._stop(str(event["user"]), where, team=team, client=client)
            return None
        if self._seen(key):
            log.info("slack message %s arrived again (retry or app_mention+message); answered once", key)
            return None
        handed = self._event(event, where, context=context, client=client, reader=reader, arrived=arrived)
        tell = teller(
            client, channel=where.channel, user=handed.user, thread_ts=where.reply_ts, private=not where.direct
        )
        accepted = hand_over(handed, sessions=self._s.sessions, enqueue=self._s.enqueue, tell=tell).accepted
        return HandedOver(handed, accepted, first=not where.known)

    def _first_stop(self, key: str, *, now: float) -> bool:
        with self._stops_lock:
            for old in [k for k, at in self._stops.items() if at < now - STOP_REMEMBERED]:
                del self._stops[old]
            first = key not in self._stops
            self._stops.setdefault(key, now)
        return first

    def _seen(self, key: str) -> bool:
        """A cheap look before fetching files and threads: was this message handed over already?"""
        with self._s.sessions() as session:
            return processed.status_of(session, key=key) is not None

    def _reader(self, context: BoltContext, client: WebClient) -> Reader:
        return Reader(client=client, people=self._s.people, team=tenant_of(context), bot_user_id=context.bot_user_id)

    def _stop(self, user: str, where: _Where, *, team: str, client: WebClient) -> None:
        """A typed "stop": in a thread or a DM, the person's answer there; in a channel itself, their newest
        one in the channel. A stopped answer shows it; anything else is told to them alone."""
        thread = where.thread if where.thread_ts or where.direct else None
        verdict = stop_typed(self._s, team=team, channel=where.channel, user=user, thread=thread)
        if verdict is not Verdict.STOPPING:
            tell = teller(client, channel=where.channel, user=user, thread_ts=where.reply_ts, private=not where.direct)
            tell(MESSAGES[verdict])

    def _addressed(self, event: Mapping[str, Any], *, team: str, reader: Reader) -> _Where | None:
        """Where the message sits, if it is for LLMOS: a DM, a mention, or a thread LLMOS is part of."""
        channel, ts, thread_ts = str(event["channel"]), str(event["ts"]), event.get("thread_ts")
        direct = event.get("channel_type") == "im" or channel.startswith("D")
        thread = str(thread_ts) if thread_ts else (DM_THREAD if direct else ts)
        within = {"platform": str(Platform.SLACK), "tenant": team, "channel": channel, "thread": thread}
        with self._s.sessions() as session:
            known = conversations.known_thread(session, **within)
            others = conversations.speakers(session, **within) if known and thread_ts else set()
        text = str(event.get("text") or "")
        named = reader.mentions(text)
        bot = reader.bot_user_id
        mentioned = bot is not None and bot in named
        # In a thread LLMOS is part of, a message naming only other people is for them, and so are
        # thanks and words to someone else who talks there ("Bob, can you check?").
        continued = bool(thread_ts) and known and not named - {bot}
        if continued and not direct:
            others.discard(reader.name_of(str(event.get("user") or "")))
            continued = not for_someone_else(reader.plain(text), others=others)
        if not (direct or mentioned or continued):
            return None
        reply_ts = str(thread_ts) if thread_ts else (None if direct else ts)
        return _Where(channel, ts, str(thread_ts) if thread_ts else None, thread, reply_ts, direct, known)

    def _event(
        self,
        event: Mapping[str, Any],
        where: _Where,
        *,
        context: BoltContext,
        client: WebClient,
        reader: Reader,
        arrived: float,
    ) -> Event:
        user = str(event["user"])
        request = self._request(reader.plain(str(event.get("text") or "")))
        quoted = self._transcript(reader, request, channel=where.channel, ts=where.ts, thread_ts=where.thread_ts)
        reading = self._s.files.read(event.get("files") or [], token=str(context.bot_token or ""))
        if not request.text and not reading.attachments and request.kind is Kind.ASK:
            request = Request(kind=Kind.HELP, text="")
        ref = SlackRef(
            mode=ReplyMode.THREAD if where.reply_ts else ReplyMode.CHANNEL,
            team=tenant_of(context),
            channel=where.channel,
            user=user,
            enterprise=context.enterprise_id,
            is_enterprise_install=bool(context.is_enterprise_install),
            thread_ts=where.reply_ts,
            user_team=event.get("user_team") or event.get("team"),
            notes=reading.notes,
        )
        return Event(
            platform=Platform.SLACK,
            tenant=ref.team,
            channel=where.channel,
            thread=where.thread,
            user=user,
            # The channel and ts name the message itself, whichever event or retry brought it.
            message_id=f"{where.channel}:{where.ts}",
            text=request.text,
            kind=request.kind,
            priority=request.priority,
            args=request.args,
            attachments=reading.attachments,
            context=quoted,
            user_name=self._s.people.get(client, team=ref.team, user=user).name,
            ref=ref.to_dict(),
            received_at=arrived,
        )

    def _request(self, text: str) -> Request:
        # "@LLMOS /summarize" works like the slash command; anything else is a question.
        return parse(text, skills=self._s.skills) if text.startswith("/") else Request(kind=Kind.ASK, text=text)

    @staticmethod
    def _transcript(
        reader: Reader, request: Request, *, channel: str, ts: str, thread_ts: str | None
    ) -> tuple[Quoted, ...]:
        """What a summary or a draft works on: this thread, or the channel's recent messages."""
        if request.kind not in TRANSCRIPT_KINDS:
            return ()
        limit = int(request.args.get("n", "20"))
        try:
            if thread_ts:
                return tuple(q for q in reader.thread(channel=channel, thread_ts=thread_ts, until=ts)[:-1])[-limit:]
            return reader.channel(channel=channel, limit=limit, before=ts)
        except SlackApiError as exc:
            log.warning("could not read the conversation in %s for a %s: %s", channel, request.kind, exc)
            return ()
