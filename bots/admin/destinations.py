"""Whether a job's Slack or Discord destination belongs to the job's own tenant.

One bot token serves every Discord guild and, with SLACK_BOT_TOKEN, every channel it was invited to,
so a job of tenant A naming a channel of tenant B would be posted there. Before anything is sent, the
platform itself is asked where the channel lives: Discord's channel object carries its `guild_id`
(a thread's parent must be the named channel); Slack answers `conversations.info` with the tenant's
own token only for channels that workspace has, and says which team the channel belongs to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

log = logging.getLogger(__name__)

# How long the platform may take to say where a channel lives.
CHECK_TIMEOUT = 10.0


class DestinationCheck(Protocol):
    def refusal(self, *, tenant: str, destination: Mapping[str, Any]) -> str | None:
        """Why the destination may not be used by this tenant; None when it may.

        Raises Unverifiable when this process cannot ask the platform.
        """
        ...


class OwnsDestinations(Protocol):
    """A reply sink that can say itself whether a destination is the tenant's (checked before the default)."""

    def destination_refusal(self, *, tenant: str, destination: Mapping[str, Any]) -> str | None: ...


class DestinationRefused(ValueError):
    """A job named a channel outside its tenant; nothing was sent there."""


class Unverifiable(RuntimeError):
    """The platform could not be asked (no credentials here, or it did not answer)."""


def _snowflake(value: object) -> int | None:
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


async def discord_refusal(http: Any, *, guild: str, channel: str, thread: str | None) -> str | None:
    """Ask Discord (through discord.py's HTTP client) whose channel and thread these are."""
    import discord

    ids = [(name, _snowflake(value)) for name, value in (("channel", channel), ("thread", thread)) if value]
    for name, ident in ids:
        if ident is None:
            return f"the {name} must be a Discord id (digits)"
    found: dict[str, Mapping[str, Any]] = {}
    for name, ident in ids:
        try:
            found[name] = await http.get_channel(ident)
        except (discord.NotFound, discord.Forbidden):
            return f"the {name} is not one this Discord server's bot can see"
    if any(str(c.get("guild_id") or "") != guild for c in found.values()):
        return "the channel is not in this tenant's Discord server"
    if thread and str(found["thread"].get("parent_id") or "") != str(channel):
        return "the thread is not in the named channel"
    return None


def slack_refusal(client: Any, *, team: str, channel: str) -> str | None:
    """Ask Slack, with the tenant's own token, about the channel; another workspace's channel is refused."""
    from slack_sdk.errors import SlackApiError

    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as exc:
        log.info("conversations.info for a job destination: %s", exc.response.get("error"))
        return "the channel is not one this Slack workspace's bot can see"
    found: Mapping[str, Any] = info.get("channel") or {}
    teams = {str(found.get("context_team_id") or ""), *map(str, found.get("shared_team_ids") or ())} - {""}
    if teams and team not in teams:
        return "the channel is not in this tenant's Slack workspace"
    return None


def refusal_for(sink: object, *, tenant: str, destination: Mapping[str, Any]) -> str | None:
    """Why `destination` is not the tenant's, asked through the platform client of the sink built for it.

    Building a sink sends nothing; the Slack sink carries a client with the tenant's own token, and
    Discord's sinks post through this process's shared discord.py client.
    """
    own = getattr(sink, "destination_refusal", None)
    if callable(own):
        # A sink that knows its platform's answer itself (OwnsDestinations).
        return own(tenant=tenant, destination=destination)  # type: ignore[no-any-return]
    kind, channel = destination.get("type"), str(destination.get("channel") or "")
    thread = destination.get("thread")
    if kind == "discord":
        return _on_discord(lambda http: discord_refusal(http, guild=tenant, channel=channel, thread=thread))
    if kind == "slack":
        client = getattr(sink, "client", None)
        if client is None:
            raise Unverifiable("this Slack sink has no Web API client to ask")
        return slack_refusal(client, team=tenant, channel=channel)
    return None


def _on_discord(check: Callable[[Any], Awaitable[str | None]]) -> str | None:
    """Run a check on this process's logged-in discord.py client (the one the Discord sink posts with)."""
    from bots.discord import rest

    try:
        client_rest = rest.shared()
    except Exception as exc:
        raise Unverifiable(f"no Discord client: {type(exc).__name__}") from exc

    async def call() -> str | None:
        return await asyncio.wait_for(check(client_rest.client.http), CHECK_TIMEOUT)

    return client_rest.run(call(), timeout=CHECK_TIMEOUT + 1)
