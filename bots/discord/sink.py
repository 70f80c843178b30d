"""The Discord reply sink: runs in the Celery workers and streams an answer over Discord's REST API.

The answer's messages are made as the first text arrives (the typing indicator shows until then),
so their ids are recorded on the reply bus, keyed by the event, as each one is made. A task
redelivered after a killed worker reads them back and edits those messages instead of posting the
answer twice; a part the dead worker posted but could not record is found again by its nonce.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from bots.discord import endpoints
from bots.discord.answer import Answer, Part
from bots.discord.ref import DiscordRef, ReplyMode, channel_ref
from bots.discord.rest import DiscordRest
from bots.discord.settings import DiscordSettings
from bots.discord.targets import ChannelTarget, InteractionTarget, Target
from workers.commands import COMMANDS
from workers.events import Event, Platform
from workers.replybus import ReplyBus
from workers.sinks import Outlet

log = logging.getLogger(__name__)

FINISH_TIMEOUT = 120.0


def notices_of(ref: DiscordRef) -> str:
    """Limits the adapter applied (a skipped file, a cut text), shown small above the answer."""
    lines = [f"-# {note}" for note in ref.notices]
    return "\n".join(lines) + "\n" if lines else ""


class DiscordSink:
    def __init__(self, *, event: Event, bus: ReplyBus, connect: Callable[[], DiscordRest]) -> None:
        self._event = event
        self._ref = DiscordRef.from_mapping(event.ref)
        self._bus = bus
        self._connect = connect
        self._stream = f"discord-parts:{event.key}"
        self._prefix = notices_of(self._ref)
        self._text = ""
        self._rest: DiscordRest | None = None
        self._answer: Answer | None = None
        # A regenerated answer's old message (a channel message's id), which the new answer takes over:
        # from the event itself, so a worker that takes the answer over from another edits it too.
        replaces = str(event.args.get("replaces") or "") if event.regenerates else ""
        self._replaces: str | None = replaces if replaces.isdigit() else None

    def rest(self) -> DiscordRest:
        """The logged-in client this sink posts with (its outlet's; started on first use)."""
        return self._connect()

    def _target(self, client_rest: DiscordRest) -> Target:
        ref = self._ref
        client = client_rest.client
        if ref.mode is ReplyMode.INTERACTION:
            assert ref.application_id is not None and ref.token is not None  # DiscordRef checks both
            return InteractionTarget(
                client,
                channel_id=int(ref.channel_id),
                application_id=int(ref.application_id),
                token=ref.token,
                ephemeral=ref.ephemeral,
            )
        return ChannelTarget(
            client,
            channel_id=int(ref.channel_id),
            guild_id=int(ref.guild_id) if ref.guild_id else None,
            reply_to=int(ref.reply_to) if ref.reply_to else None,
            key=self._event.key,
        )

    def _recorded(self) -> dict[int, str]:
        found: dict[int, str] = {}
        for _ident, item in self._bus.read(self._stream, after="0", timeout=0.0):
            if item.get("type") == "part":
                found[int(item["index"])] = str(item["id"])
        return found

    async def _record(self, index: int, message_id: str) -> None:
        await asyncio.to_thread(self._bus.publish, self._stream, {"type": "part", "index": index, "id": message_id})

    def _make(self) -> tuple[DiscordRest, Answer]:
        if self._rest is not None and self._answer is not None:
            return self._rest, self._answer
        client_rest = self._connect()
        target = self._target(client_rest)
        recorded = self._recorded()
        # The first part: the deferred response, the one an earlier worker posted (recorded), or the
        # old answer's message a regeneration edits (never recorded: it was not posted for this event).
        first = target.first or recorded.get(0) or self._replaces
        parts = [Part(first, None)] if first else []
        for index in range(len(parts), len(parts) + len(recorded)):
            if index not in recorded:
                break
            parts.append(Part(recorded[index], None))
        self._rest = client_rest
        # Answers LLMOS writes itself (commands) are done at once: only the engine's get a Stop button.
        stop_key = None if self._event.kind in COMMANDS else self._event.key
        self._answer = Answer(
            target=target, pacer=client_rest.pacer, parts=parts, record=self._record, stop_key=stop_key
        )
        return self._rest, self._answer

    def start(self, *, resume_ref: str | None) -> str:
        if resume_ref is not None and resume_ref.isdigit() and self._answer is None:
            self._replaces = resume_ref  # not this sink's own stream: a message id to take over
        client_rest, answer = self._make()
        typing = resume_ref is None and self._ref.mode is not ReplyMode.INTERACTION
        client_rest.call_soon(lambda: answer.begin(typing=typing))
        if resume_ref is not None:
            log.info("event %s: taking over answer messages %s", self._event.key, answer.message_ids)
        return self._stream

    def status(self, text: str) -> None:
        """A wait or progress note under the answer so far (see `Answer.note`)."""
        client_rest, answer = self._make()
        client_rest.call_soon(answer.note, text)

    def append(self, text: str) -> None:
        client_rest, answer = self._make()
        self._text += text
        client_rest.call_soon(answer.update, self._prefix + self._text)

    def finish(self, text: str) -> None:
        client_rest, answer = self._make()
        client_rest.run(answer.finish(self._prefix + text), timeout=FINISH_TIMEOUT)

    def fail(self, message: str) -> None:
        client_rest, answer = self._make()
        client_rest.run(answer.fail(message), timeout=FINISH_TIMEOUT)


class DiscordReplies:
    """A worker's Discord outlet: one REST client per process, logged in at the first answer (a failed
    login is tried again at the next), and logged out when the stack closes."""

    def __init__(self, *, settings: DiscordSettings, bus: ReplyBus) -> None:
        self._settings = settings
        self._bus = bus
        self._lock = threading.Lock()
        self._rest: DiscordRest | None = None

    def rest(self) -> DiscordRest:
        with self._lock:
            if self._rest is None or self._rest.closed:
                endpoints.use(api_url=self._settings.api_url, gateway_url=self._settings.gateway_url)
                self._rest = DiscordRest(settings=self._settings).start()
            return self._rest

    def sink(self, event: Event) -> DiscordSink:
        return DiscordSink(event=event, bus=self._bus, connect=self.rest)

    def close(self) -> None:
        with self._lock:
            client_rest, self._rest = self._rest, None
        if client_rest is not None:
            client_rest.close()

    def outlet(self) -> Outlet:
        return Outlet(Platform.DISCORD, self.sink, channel_ref=channel_ref, close=self.close)
