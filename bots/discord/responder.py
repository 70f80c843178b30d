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

CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE = 4, 5
EPHEMERAL = 64


class Responder(Protocol):
    async def defer(self, *, ephemeral: bool) -> None: ...

    async def send(self, text: str, *, ephemeral: bool = True) -> None:
        """Answer now, or replace the deferred response with `text`."""
        ...


class GatewayResponder:
    def __init__(self, interaction: discord.Interaction) -> None:
        self._interaction = interaction

    async def defer(self, *, ephemeral: bool) -> None:
        await self._interaction.response.defer(thinking=True, ephemeral=ephemeral)

    async def send(self, text: str, *, ephemeral: bool = True) -> None:
        if self._interaction.response.is_done():
            await self._interaction.edit_original_response(content=text)
        else:
            await self._interaction.response.send_message(text, ephemeral=ephemeral)


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

    async def send(self, text: str, *, ephemeral: bool = True) -> None:
        if not self.first.done():
            data = {"content": text, "flags": EPHEMERAL if ephemeral else 0, "allowed_mentions": {"parse": []}}
            self.first.set_result({"type": CHANNEL_MESSAGE, "data": data})
            return
        await asyncio.wait_for(self.sent.wait(), 10.0)
        await self._interaction.edit_original_response(content=text)
