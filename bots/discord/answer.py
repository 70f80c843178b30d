"""One answer as it streams into Discord: the latest text, shown by one updater task on the REST loop.

Worker threads only hand over the newest text; the updater takes a turn from the channel's pacer,
renders whatever the text is by then into parts of 2000 characters, and edits the parts that changed
(posting new ones as the answer grows). A slow or rate-limited request therefore never blocks the
engine stream, and no update is ever out of order. Until the first part exists, the channel shows
the typing indicator. A wait or progress note ("Queued…", "Using search…") is shown as a small line
under the text so far, and the next text replaces it: it is never part of the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from bots.discord.rest import Pacer
from bots.discord.targets import FEEDBACK, STOP, Controls, Target
from bots.discord.text import split

log = logging.getLogger(__name__)

TYPING_EVERY = 8.0  # Discord shows the indicator for about 10 s per request.

Record = Callable[[int, str], Awaitable[None]]


@dataclass(slots=True)
class Part:
    id: str
    # What the part shows now; None when unknown (taken over from an earlier worker).
    content: str | None
    # The buttons it carries ("stop", "feedback", ""); None: unknown (taken over from an earlier worker).
    controls: str | None = None


class Answer:
    def __init__(
        self, *, target: Target, pacer: Pacer, parts: list[Part], record: Record, stop_key: str | None = None
    ) -> None:
        self._target = target
        # The event whose answer this is, for its buttons on the first part: Stop while it streams,
        # 👍/👎 once it is done (None: an answer LLMOS wrote itself, without buttons).
        self._stop_key = stop_key
        self._pacer = pacer
        self._parts = parts
        self._record = record
        self._text = ""
        self._note = ""
        self._shown: str | None = None
        self._final = False
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None

    @property
    def message_ids(self) -> list[str]:
        return [p.id for p in self._parts]

    def begin(self, *, typing: bool) -> None:
        """Start the updater (and the typing indicator); call on the REST loop."""
        self._runner = asyncio.create_task(self._run())
        if typing and not self._parts:
            self._typing = asyncio.create_task(self._keep_typing())

    def update(self, text: str) -> None:
        self._text, self._note = text, ""
        self._wake.set()

    def note(self, text: str) -> None:
        """Show `text` below the answer so far until the answer grows (call on the REST loop)."""
        self._note = text
        self._wake.set()

    def _showing(self) -> str:
        if not self._note or self._final:
            return self._text
        return (self._text.rstrip() + "\n" if self._text.strip() else "") + f"-# {self._note}"

    async def finish(self, text: str) -> None:
        """Show the whole answer and return once Discord has it."""
        self._text, self._note, self._final = text, "", True
        self._wake.set()
        if self._runner is None:
            self.begin(typing=False)
        assert self._runner is not None
        try:
            await self._runner
        finally:
            self._stop_typing()

    async def fail(self, message: str) -> None:
        """Replace whatever was shown with `message` (one part), removing any further parts."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self._stop_typing()
        text = split(message)[0] if message.strip() else "Sorry, something went wrong."
        await self._render_parts([text], final=True, failed=True)

    async def _keep_typing(self) -> None:
        while not self._parts:
            try:
                await self._target.typing()
            except discord.HTTPException as exc:
                log.info("typing indicator refused in channel %s: %s", self._target.channel_id, exc)
                return
            await asyncio.sleep(TYPING_EVERY)

    def _stop_typing(self) -> None:
        if self._typing is not None:
            self._typing.cancel()
            self._typing = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._showing() == self._shown and not (self._final and self._buttons_to_swap()):
                self._wake.clear()
                if self._final:
                    return
                continue
            await self._pacer.turn(self._target.channel_id)
            self._wake.clear()
            text, final = self._showing(), self._final
            try:
                await self._render_parts(split(text), final=final)
            except discord.HTTPException as exc:
                if final:
                    raise
                log.warning("streamed update to channel %s failed: %s", self._target.channel_id, exc)
                continue
            self._shown = text
            if final:
                return

    def _buttons_to_swap(self) -> bool:
        """The answer is done but its first part still shows Stop (the last text was shown already)."""
        return self._stop_key is not None and bool(self._parts) and self._parts[0].controls != FEEDBACK

    def _controls(self, index: int, *, final: bool, failed: bool) -> Controls | None:
        if index or self._stop_key is None or failed:
            return None
        return Controls(FEEDBACK if final else STOP, self._stop_key)

    async def _render_parts(self, parts: list[str], *, final: bool, failed: bool = False) -> None:
        for index, content in enumerate(parts):
            controls = self._controls(index, final=final, failed=failed)
            if index < len(self._parts):
                await self._edit(index, content, controls)
            else:
                previous = self._parts[index - 1].id if index else None
                ident = await self._target.create(index, content, previous, controls)
                self._parts.append(Part(ident, content, controls.kind if controls else ""))
                self._stop_typing()
                await self._record(index, ident)
        for extra in self._parts[len(parts) :]:
            with contextlib.suppress(discord.NotFound):
                await self._target.delete(extra.id)
        del self._parts[max(len(parts), 1 if self._target.first else 0) :]

    async def _edit(self, index: int, content: str, controls: Controls | None) -> None:
        part = self._parts[index]
        if part.content == content and part.controls == (controls.kind if controls else ""):
            return
        try:
            await self._target.edit(part.id, content, controls)
        except discord.NotFound:
            if part.id == self._target.first:
                raise
            # Someone deleted this part of the answer: post it again in its place.
            previous = self._parts[index - 1].id if index else None
            part.id = await self._target.create(index, content, previous, controls)
            await self._record(index, part.id)
        part.content, part.controls = content, controls.kind if controls else ""
