"""Where an answer's messages go: a reply in a channel, or the response to a slash command.

Both go through discord.py's HTTP client: channel messages through partial messageables, interaction
responses through the interaction's webhook routes. Its rate-limit buckets and 429 retries apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import discord
from discord.http import Route

NO_PINGS = discord.AllowedMentions.none()
ORIGINAL = "@original"
EPHEMERAL = 64
# A Stop button's custom_id: this prefix and the event's key; a feedback button's adds "up:" or "down:".
STOP_ID = "llmos-stop:"
FEEDBACK_ID = "llmos-fb:"
# Regenerate's custom_id: this prefix and the event's key; it sits beside 👍/👎.
REGENERATE_ID = "llmos-regen:"
STOP, FEEDBACK = "stop", "feedback"


class Target(Protocol):
    channel_id: int
    # An interaction's deferred response already exists as the answer's first message.
    first: str | None

    async def create(self, index: int, content: str, previous: str | None, controls: Controls | None) -> str:
        """Post a part, with the answer's buttons (`controls`) or none."""
        ...

    async def edit(self, message_id: str, content: str, controls: Controls | None) -> None:
        """Show `content`, with the answer's buttons (`controls`) or with no button at all."""
        ...

    async def delete(self, message_id: str) -> None: ...

    async def typing(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Controls:
    """The buttons on an answer's first part: `kind` (STOP or FEEDBACK) for the event `key`."""

    kind: str
    key: str


def controls_view(controls: Controls | None) -> discord.ui.View | None:
    """The buttons as discord.py sends components. The view is finished before it is sent, so this
    REST-only client does not keep it waiting for presses (the bot's interaction handler answers them)."""
    if controls is None:
        return None
    view = discord.ui.View(timeout=None)
    if controls.kind == STOP:
        custom_id = STOP_ID + controls.key
        stop: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label="Stop", style=discord.ButtonStyle.danger, custom_id=custom_id
        )
        view.add_item(stop)
    else:
        for rating, emoji in (("up", "👍"), ("down", "👎")):
            custom_id = f"{FEEDBACK_ID}{rating}:{controls.key}"
            view.add_item(discord.ui.Button(emoji=emoji, style=discord.ButtonStyle.secondary, custom_id=custom_id))
        again: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label="Regenerate", style=discord.ButtonStyle.secondary, custom_id=REGENERATE_ID + controls.key
        )
        view.add_item(again)
    view.stop()
    return view


def nonce(key: str, index: int) -> str:
    """The same nonce for the same part of the same answer: Discord then returns the message it already
    made instead of a second one (discord.py sends it with `enforce_nonce`)."""
    return hashlib.sha256(f"{key}:{index}".encode()).hexdigest()[:24]


class ChannelTarget:
    """Replies to the user's message (or starts fresh, for a job); each further part replies to the one before."""

    first: str | None = None

    def __init__(
        self, client: discord.Client, *, channel_id: int, guild_id: int | None, reply_to: int | None, key: str
    ):
        self.channel_id = channel_id
        self._channel = client.get_partial_messageable(channel_id, guild_id=guild_id)
        self._reply_to = reply_to
        self._key = key

    async def create(self, index: int, content: str, previous: str | None, controls: Controls | None) -> str:
        replying_to = int(previous) if previous else self._reply_to
        options: dict[str, Any] = {"nonce": nonce(self._key, index), "allowed_mentions": NO_PINGS}
        if controls is not None:
            options["view"] = controls_view(controls)
        if replying_to:
            options["reference"] = discord.MessageReference(
                message_id=replying_to, channel_id=self.channel_id, fail_if_not_exists=False
            )
            options["mention_author"] = False
        message = await self._channel.send(content, **options)
        return str(message.id)

    async def edit(self, message_id: str, content: str, controls: Controls | None) -> None:
        message = self._channel.get_partial_message(int(message_id))
        await message.edit(content=content, allowed_mentions=NO_PINGS, view=controls_view(controls))

    async def delete(self, message_id: str) -> None:
        await self._channel.get_partial_message(int(message_id)).delete()

    async def typing(self) -> None:
        await self._channel.typing()


class WebhookUnreachable(ConnectionError):
    """An interaction webhook call failed in transport; the message says so without the webhook's URL."""


class InteractionTarget:
    """Edits the deferred response; further parts are follow-up messages of the same interaction."""

    first: str | None = ORIGINAL

    def __init__(self, client: discord.Client, *, channel_id: int, application_id: int, token: str, ephemeral: bool):
        self.channel_id = channel_id
        self._http = client.http
        self._app = application_id
        self._token = token
        self._flags = EPHEMERAL if ephemeral else 0

    def _route(self, method: str, path: str = "", **params: Any) -> Route:
        return Route(
            method,
            "/webhooks/{webhook_id}/{webhook_token}" + path,
            webhook_id=self._app,
            webhook_token=self._token,
            **params,
        )

    def _body(self, content: str, controls: Controls | None) -> dict[str, Any]:
        view = controls_view(controls)
        components = view.to_components() if view is not None else []
        return {"content": content, "allowed_mentions": {"parse": []}, "components": components}

    async def _request(self, route: Route, **kwargs: Any) -> Any:
        """The request, with a transport error's text (it holds the URL, and so the token) left behind."""
        try:
            return await self._http.request(route, **kwargs)
        except aiohttp.ClientError as exc:
            raise WebhookUnreachable(f"Discord's interaction webhook failed: {type(exc).__name__}") from None

    async def create(self, index: int, content: str, previous: str | None, controls: Controls | None) -> str:
        body = {**self._body(content, controls), "flags": self._flags}
        message: Mapping[str, Any] = await self._request(self._route("POST"), json=body, params={"wait": "true"})
        return str(message["id"])

    async def edit(self, message_id: str, content: str, controls: Controls | None) -> None:
        if message_id == ORIGINAL:
            route = self._route("PATCH", "/messages/@original")
        else:
            route = self._route("PATCH", "/messages/{message_id}", message_id=int(message_id))
        await self._request(route, json=self._body(content, controls))

    async def delete(self, message_id: str) -> None:
        if message_id != ORIGINAL:
            await self._request(self._route("DELETE", "/messages/{message_id}", message_id=int(message_id)))

    async def typing(self) -> None:
        """The deferred response already shows that the bot is thinking."""
