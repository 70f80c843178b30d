"""Where a Discord message or interaction happened, in LLMOS's terms.

Each guild is a tenant; direct messages belong to the user (tenant `dm:<user id>`). A thread is its
own conversation but keeps its parent channel as the LLMOS channel, so the parent's system prompt
and access rules apply inside its threads too.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import discord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Place:
    tenant: str
    tenant_name: str
    # The LLMOS channel (a thread's parent) and the Discord channel answers are posted in.
    channel: str
    channel_name: str
    post_to: int
    guild_id: int | None
    dm: bool = False
    thread_id: int | None = None
    thread_owner: int | None = None
    thread_joined: bool = False

    @property
    def fixed_thread(self) -> str | None:
        """The conversation key when the place itself is the conversation (a thread, a DM)."""
        if self.thread_id is not None:
            return f"thread:{self.thread_id}"
        if self.dm:
            return f"dm:{self.post_to}"
        return None


class ChannelCache:
    """Channels fetched over REST when the gateway cache lacks them (a thread the bot never saw)."""

    def __init__(self, size: int = 2000) -> None:
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._size = size

    async def fetch(self, client: discord.Client, channel_id: int) -> Any:
        if channel_id in self._items:
            return self._items[channel_id]
        try:
            channel = await client.fetch_channel(channel_id)
        except discord.HTTPException as exc:
            log.info("could not fetch channel %s: %s", channel_id, exc)
            channel = None
        self._items[channel_id] = channel
        while len(self._items) > self._size:
            self._items.popitem(last=False)
        return channel


def role_ids(user: discord.abc.User) -> tuple[str, ...]:
    """The member's role ids for role allow/block lists.

    `Member.roles` keeps only the roles in discord.py's guild cache, which an interaction received over
    HTTP does not have; the ids Discord sent are kept in `Member._roles`, so both are read.
    """
    if not isinstance(user, discord.Member):
        return ()
    ids = {role.id for role in user.roles if not role.is_default()} | set(getattr(user, "_roles", ()))
    return tuple(str(ident) for ident in sorted(ids) if ident != user.guild.id)


def _name(channel: Any) -> str:
    return str(getattr(channel, "name", "") or "")


async def locate(
    client: discord.Client, channel: Any, *, guild: discord.Guild | None, user: discord.abc.User, cache: ChannelCache
) -> Place:
    if isinstance(channel, discord.PartialMessageable) and channel.guild_id is not None:
        channel = await cache.fetch(client, channel.id) or channel
    guild_id = (
        guild.id
        if guild
        else getattr(channel, "guild_id", None) or getattr(getattr(channel, "guild", None), "id", None)
    )
    if guild_id is None:
        return Place(
            tenant=f"dm:{user.id}",
            tenant_name=f"DMs with {user.display_name}",
            channel=str(channel.id),
            channel_name="direct messages",
            post_to=channel.id,
            guild_id=None,
            dm=True,
        )
    tenant_name = guild.name if guild else ""
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        return Place(
            tenant=str(guild_id),
            tenant_name=tenant_name,
            channel=str(channel.parent_id),
            channel_name=_name(parent),
            post_to=channel.id,
            guild_id=guild_id,
            thread_id=channel.id,
            thread_owner=channel.owner_id,
            thread_joined=channel.me is not None,
        )
    return Place(
        tenant=str(guild_id),
        tenant_name=tenant_name,
        channel=str(channel.id),
        channel_name=_name(channel),
        post_to=channel.id,
        guild_id=guild_id,
    )
