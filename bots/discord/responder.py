"""Answering an interaction within Discord's 3 seconds, whether it came over the gateway or over HTTP.

Over the gateway the first answer is a callback request; over the HTTP endpoint it is the body of
the response to Discord's request. Later answers edit the original response through the
interaction's webhook in both cases.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import discord

log = logging.getLogger(__name__)

CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL = 4, 5, 9
EPHEMERAL = 64


class Responder(Protocol):
    async def defer(self, *, ephemeral: bool) -> None: ...

    async def send(self, text: str, *, ephemeral: bool = True, view: discord.ui.View | None = None) -> None:
        """Answer now, or replace the deferred response with `text` (and the buttons of a finished `view`)."""
        ...

    async def modal(self, modal: discord.ui.Modal) -> None:
        """Answer with a form (a finished `modal`: its submission comes as an interaction of its own)."""
        ...

    async def refuse(self, text: str) -> None:
        """Tell only the asker, even where the deferred response is public (it is removed)."""
        ...

    async def follow(self, text: str) -> None:
        """One more message after the response, only the asker sees (an answer past 2,000 characters)."""
        ...


async def _privately(interaction: discord.Interaction, text: str, *, public: bool) -> None:
    """After a deferral: a public "thinking" response gives way to a note only the asker sees."""
    if not public:
        await interaction.edit_original_response(content=text)
        return
    try:
        await interaction.delete_original_response()
    except discord.NotFound:
        log.info("interaction %s: its response was gone already", interaction.id)
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


class GatewayResponder:
    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction
        self._public = False

    async def defer(self, *, ephemeral: bool) -> None:
        self._public = not ephemeral
        await self._interaction.response.defer(thinking=True, ephemeral=ephemeral)

    async def send(self, text: str, *, ephemeral: bool = True, view: discord.ui.View | None = None) -> None:
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        if self._interaction.response.is_done():
            await self._interaction.edit_original_response(content=text, **extra)
        else:
            await self._interaction.response.send_message(text, ephemeral=ephemeral, **extra)

    async def modal(self, modal: discord.ui.Modal) -> None:
        await self._interaction.response.send_modal(modal)

    async def refuse(self, text: str) -> None:
        if self._interaction.response.is_done():
            await _privately(self._interaction, text, public=self._public)
        else:
            await self._interaction.response.send_message(text, ephemeral=True)

    async def follow(self, text: str) -> None:
        await self._interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


class HttpResponder:
    """The first answer becomes the HTTP response (`first`); the endpoint waits for it."""

    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction
        self.first: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        # Set once the HTTP response has gone out: Discord knows the interaction only after that.
        self.sent = asyncio.Event()

    async def defer(self, *, ephemeral: bool) -> None:
        if not self.first.done():
            self.first.set_result({"type": DEFERRED_CHANNEL_MESSAGE, "data": {"flags": EPHEMERAL if ephemeral else 0}})

    async def send(self, text: str, *, ephemeral: bool = True, view: discord.ui.View | None = None) -> None:
        if not self.first.done():
            data: dict[str, Any] = {
                "content": text,
                "flags": EPHEMERAL if ephemeral else 0,
                "allowed_mentions": {"parse": []},
            }
            if view is not None:
                data["components"] = view.to_components()
            self.first.set_result({"type": CHANNEL_MESSAGE, "data": data})
            return
        await asyncio.wait_for(self.sent.wait(), 10.0)
        if view is None:
            await self._interaction.edit_original_response(content=text)
        else:
            await self._interaction.edit_original_response(content=text, view=view)

    async def modal(self, modal: discord.ui.Modal) -> None:
        if self.first.done():
            raise RuntimeError("a form is only ever the first answer to an interaction")
        self.first.set_result({"type": MODAL, "data": modal.to_dict()})

    async def refuse(self, text: str) -> None:
        if not self.first.done():
            await self.send(text, ephemeral=True)
            return
        public = not self.first.result().get("data", {}).get("flags", 0) & EPHEMERAL
        await asyncio.wait_for(self.sent.wait(), 10.0)
        await _privately(self._interaction, text, public=public)

    async def follow(self, text: str) -> None:
        await asyncio.wait_for(self.sent.wait(), 10.0)
        await self._interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
