"""`/llmos` and the message shortcuts, each acknowledged at once and answered through the queue.

Slack wants an acknowledgement within three seconds; every handler here calls `ack()` first and
then reads what it needs and enqueues. Skills asked with `/llmos` in a channel are answered in
public in a thread under a short header (so the answer can stream and the thread can go on);
commands about the user's own data, drafts, usage mistakes, refusals and every shortcut's result
are answered privately through the interaction's response_url.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bots.slack.admin import Admin
from bots.slack.controls import stop_typed
from bots.slack.messages import TRANSCRIPT_KINDS, tenant_of
from bots.slack.ref import ReplyMode, SlackRef
from bots.slack.services import Services
from bots.slack.transcript import Reader, asked_header
from db import slack as slack_db
from workers.commands import COMMANDS
from workers.events import Event, Kind, Platform, Quoted
from workers.intake import Tell, gate_of, hand_over, refusal
from workers.requests import Request, parse, suggestion, unusable
from workers.stopping import MESSAGES, typed_stop

log = logging.getLogger(__name__)

COMMAND = "/llmos"
SHORTCUTS = {
    "llmos_summarize_thread": Kind.SUMMARIZE,
    "llmos_translate": Kind.TRANSLATE,
    "llmos_draft_reply": Kind.DRAFT,
}
# Answered only to the asker: commands about their own data, and drafts (a reply they have not sent yet).
PRIVATE_KINDS = COMMANDS | {Kind.DRAFT}
NOT_IN_CHANNEL = "I can't read this conversation. Invite me first (`/invite @LLMOS`), or ask me in a direct message."


def privately(respond: Respond) -> Tell:
    """Tell the asking user through the interaction's response_url (only they see it)."""

    def tell(text: str) -> None:
        respond(text=text, response_type="ephemeral")

    return tell


def slash_request(text: str, *, skills: frozenset[str] = frozenset()) -> Request:
    """`/llmos summarize 20` runs a skill; `/llmos why is the sky blue?` is a question.

    What cannot run as typed (a misspelt command, a translation without its text) becomes help with
    the reason, which is answered privately, so that a mistake is never posted as a question.
    """
    if not text:
        return Request(kind=Kind.HELP, text="")
    request = parse("/" + text, skills=skills)
    if request.kind is Kind.HELP and "error" in request.args:
        word = text.split(maxsplit=1)[0]
        if suggestion(word, skills=skills) is None:
            return Request(kind=Kind.ASK, text=text)
    return unusable(request)


class Commands:
    def __init__(self, services: Services, admin: Admin) -> None:
        self._s = services
        self._admin = admin

    def register(self, app: App) -> None:
        app.command(COMMAND)(self.on_command)
        for callback_id in SHORTCUTS:
            app.shortcut(callback_id)(self.on_shortcut)

    # -- /llmos -------------------------------------------------------------------------------

    def on_command(
        self, ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
    ) -> None:
        ack()
        arrived = time.time()
        raw = str(command.get("text") or "").strip()
        if raw.split(maxsplit=1)[:1] == ["admin"]:
            self._admin.run(raw.removeprefix("admin").strip(), command=command, context=context, respond=respond)
            return
        team, channel, user = tenant_of(context), str(command["channel_id"]), str(command["user_id"])
        if typed_stop(raw):
            respond(MESSAGES[stop_typed(self._s, team=team, channel=channel, user=user)])
            return
        reader = Reader(client=client, people=self._s.people, team=team, bot_user_id=context.bot_user_id)
        said = reader.plain(raw)
        request = slash_request(said, skills=self._s.skills)
        quoted: tuple[Quoted, ...] = ()
        if request.kind in TRANSCRIPT_KINDS:
            try:
                quoted = reader.channel(channel=channel, limit=int(request.args.get("n", "20")))
            except SlackApiError as exc:
                log.info("/llmos %s in %s: %s", request.kind, channel, exc)
                respond(NOT_IN_CHANNEL)
                return
        base = SlackRef(
            mode=ReplyMode.EPHEMERAL,
            team=team,
            channel=channel,
            user=user,
            enterprise=context.enterprise_id,
            is_enterprise_install=bool(context.is_enterprise_install),
            response_url=command.get("response_url"),
        )
        event = self._event(
            base, request, quoted, thread=f"slash:{user}", id_=command.get("trigger_id"), arrived=arrived
        )
        header = None
        if request.kind not in PRIVATE_KINDS:
            # Nothing is posted for a request the access rules or a limit turn away: the refusal is the user's alone.
            turned = refusal(event, sessions=self._s.sessions, gate=gate_of(self._s.enqueue))
            if turned:
                respond(text=turned, response_type="ephemeral")
                return
            header = self._header(client, channel, user, said)
        if header:
            ref = replace(base, mode=ReplyMode.THREAD, thread_ts=header, response_url=None)
            event = replace(event, thread=header, ref=ref.to_dict())
        if not self._hand_over(event, respond) and header:
            self._retract(client, channel, header)

    def _hand_over(self, event: Event, respond: Respond) -> bool:
        """True when the event was queued; why not goes privately to the asker."""
        return hand_over(event, sessions=self._s.sessions, enqueue=self._s.enqueue, tell=privately(respond)).accepted

    def _header(self, client: WebClient, channel: str, user: str, text: str) -> str | None:
        """Post who asked what, to answer under it; None where LLMOS may not post (answer privately)."""
        try:
            posted = client.chat_postMessage(channel=channel, text=asked_header(user, text))
        except SlackApiError as exc:
            log.info("cannot post in %s (%s); answering privately", channel, exc.response.get("error"))
            return None
        return str(posted["ts"])

    @staticmethod
    def _retract(client: WebClient, channel: str, ts: str) -> None:
        try:
            client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as exc:
            log.info("could not remove the header %s in %s: %s", ts, channel, exc)

    # -- message shortcuts --------------------------------------------------------------------

    def on_shortcut(
        self, ack: Ack, shortcut: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
    ) -> None:
        ack()
        arrived = time.time()
        kind = SHORTCUTS[shortcut["callback_id"]]
        team, channel, user = tenant_of(context), str(shortcut["channel"]["id"]), str(shortcut["user"]["id"])
        message = shortcut["message"]
        root = str(message.get("thread_ts") or message["ts"])
        reader = Reader(client=client, people=self._s.people, team=team, bot_user_id=context.bot_user_id)
        request = Request(kind=kind, text="")
        quoted: tuple[Quoted, ...] = ()
        try:
            if kind is Kind.TRANSLATE:
                request = Request(
                    kind=kind, text=reader.plain(str(message.get("text") or "")), args=self._to(team, user)
                )
            else:
                until = str(message["ts"]) if kind is Kind.DRAFT else None
                quoted = reader.thread(channel=channel, thread_ts=root, until=until)
        except SlackApiError as exc:
            log.info("shortcut %s in %s: %s", kind, channel, exc)
            respond(NOT_IN_CHANNEL)
            return
        # A shortcut's result is for the person who clicked it: through the payload's response_url, which
        # also works where LLMOS is not a member and could not post in the thread.
        ref = SlackRef(
            mode=ReplyMode.EPHEMERAL,
            team=team,
            channel=channel,
            user=user,
            enterprise=context.enterprise_id,
            is_enterprise_install=bool(context.is_enterprise_install),
            user_team=shortcut["user"].get("team_id"),
            response_url=shortcut.get("response_url"),
        )
        # Its own conversation: a summary or a translation does not make LLMOS join the thread.
        event = self._event(
            ref, request, quoted, thread=f"{root}:{kind}", id_=shortcut.get("trigger_id"), arrived=arrived
        )
        self._hand_over(event, respond)

    def _to(self, team: str, user: str) -> dict[str, str]:
        with self._s.sessions() as session:
            language = slack_db.user_preferences(session, team=team, user=user).get("language")
        return {"language": language or "English"}

    # -- shared -------------------------------------------------------------------------------

    @staticmethod
    def _event(
        ref: SlackRef, request: Request, quoted: tuple[Quoted, ...], *, thread: str, id_: str | None, arrived: float
    ) -> Event:
        return Event(
            platform=Platform.SLACK,
            tenant=ref.team,
            channel=ref.channel,
            thread=thread,
            user=ref.user,
            # Slack's trigger_id names this one interaction.
            message_id=f"interaction:{id_ or uuid.uuid4().hex}",
            text=request.text,
            kind=request.kind,
            priority=request.priority,
            args=request.args,
            context=quoted,
            ref=ref.to_dict(),
            received_at=arrived,
        )
