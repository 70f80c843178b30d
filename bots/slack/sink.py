"""The Slack reply sink the Celery workers use, and how a worker finds each workspace's bot token.

The Slack surface builds one `SinkFactory` per worker process from its settings (read at the entry
point) and hands it to the stack as the Slack outlet.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.webhook import WebhookClient
from sqlalchemy.orm import Session, sessionmaker

from bots.slack import mrkdwn
from bots.slack.controls import feedback_blocks, stop_blocks
from bots.slack.oauth import SealedInstallationStore, installation_store
from bots.slack.ref import ReplyMode, SlackRef, channel_ref
from bots.slack.settings import SlackSettings
from bots.slack.stream import MESSAGE_LIMIT, SECTION_LIMIT, ThreadSink
from bots.slack.web import SlackAuthError, retry_handlers, web_client
from workers.commands import COMMANDS
from workers.events import Event, Platform
from workers.sinks import Outlet, ReplySink

log = logging.getLogger(__name__)

WORKING = "_Working on it…_"
# What an ephemeral answer's sink calls its reply (a worker taking it over sends no second note).
RESPONSE_URL = "response_url"
# A response_url takes five messages; the first one is the "working" note.
EPHEMERAL_PIECES = 4


class BotTokens:
    """The token that answers in a workspace: SLACK_BOT_TOKEN, or that workspace's installation."""

    def __init__(self, *, token: str | None, store: SealedInstallationStore | None) -> None:
        self._token = token
        self._store = store

    def for_ref(self, ref: SlackRef) -> str:
        if self._token:
            return self._token
        bot = (
            self._store.find_bot(
                enterprise_id=ref.enterprise, team_id=ref.team, is_enterprise_install=ref.is_enterprise_install
            )
            if self._store is not None
            else None
        )
        if bot is None or not bot.bot_token:
            log.error("no Slack installation with a bot token for workspace %s; install the app there again", ref.team)
            raise SlackAuthError(f"LLMOS is not installed in Slack workspace {ref.team}")
        return str(bot.bot_token)


class EphemeralSink:
    """Answers only the asking user sees, through the interaction's response_url (no streaming).

    An engine's answer (`key`, its event) gets the same controls as any other: Stop on the "working"
    note while it is written, then 👍/👎 and Regenerate on its last message. A regenerated answer's
    url is its Regenerate press's own (`replacing`): its note replaces the message pressed on, and so
    does the answer.
    """

    def __init__(self, *, url: str, rate_limit_retries: int, key: str | None = None, replacing: bool = False) -> None:
        self._hook = WebhookClient(url=url, timeout=30, retry_handlers=retry_handlers(rate_limit_retries))
        self._key = key
        self._replacing = replacing

    def _send(self, text: str, *, replace: bool, blocks: list[dict[str, Any]] | None = None) -> None:
        response = self._hook.send(text=text, blocks=blocks, response_type="ephemeral", replace_original=replace)
        if response.status_code != 200:
            raise ResponseUrlError(f"response_url answered {response.status_code}: {response.body[:200]}")

    def start(self, *, resume_ref: str | None) -> str:
        if resume_ref is None:
            blocks = stop_blocks(self._key, note=WORKING) if self._key is not None else None
            self._send(WORKING, replace=self._replacing, blocks=blocks)
        return RESPONSE_URL

    def append(self, text: str) -> None:
        """A response_url takes only a few messages: the answer is shown whole when it is done."""

    def finish(self, text: str) -> None:
        pieces = mrkdwn.split(mrkdwn.to_mrkdwn(text), MESSAGE_LIMIT)
        if len(pieces) > EPHEMERAL_PIECES:
            pieces = [*pieces[: EPHEMERAL_PIECES - 1], "_(The answer is too long to show here in full.)_"]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            self._send(piece, replace=index == 0, blocks=self._controls(piece) if last else None)

    def _controls(self, piece: str) -> list[dict[str, Any]] | None:
        """The last message as sections (each holds 3,000 characters) with the answer's buttons under it."""
        if self._key is None or not piece.strip():
            return None
        sections = [
            {"type": "section", "text": {"type": "mrkdwn", "text": part}} for part in mrkdwn.split(piece, SECTION_LIMIT)
        ]
        return [*sections, *feedback_blocks(self._key)]

    def fail(self, message: str) -> None:
        self._send(f":warning: {message}", replace=True)


class ResponseUrlError(RuntimeError):
    """Slack turned down a message to a response_url (expired after 30 minutes, or used five times)."""


class SinkFactory:
    """Builds a sink per answer with the right workspace's token; one per process."""

    def __init__(self, *, settings: SlackSettings, tokens: BotTokens) -> None:
        self._settings = settings
        self._tokens = tokens

    def __call__(self, event: Event) -> ReplySink:
        ref = SlackRef.from_mapping(event.ref)
        # Answers LLMOS writes itself (commands) are done at once: only the engine's get a Stop button.
        stop_key = None if event.kind in COMMANDS else event.key
        if ref.mode is ReplyMode.EPHEMERAL and ref.response_url:
            retries = self._settings.rate_limit_retries
            return EphemeralSink(
                url=ref.response_url, rate_limit_retries=retries, key=stop_key, replacing=bool(event.regenerates)
            )
        client = web_client(self._settings, token=self._tokens.for_ref(ref))
        return ThreadSink(client=client, ref=ref, streaming=self._settings.streaming, stop_key=stop_key)

    @classmethod
    def build(cls, settings: SlackSettings, *, sessions: sessionmaker[Session]) -> SinkFactory:
        bind = sessions.kw["bind"]
        store = installation_store(settings, engine=bind, sessions=sessions)
        token = settings.bot_token.get_secret_value() if settings.bot_token else None
        return cls(settings=settings, tokens=BotTokens(token=token, store=store))

    def outlet(self) -> Outlet:
        return Outlet(Platform.SLACK, self, channel_ref=channel_ref)
