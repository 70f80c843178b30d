"""`/admin`: checked against Manage Server, run in the bot (settings only), answered privately."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import discord

from bots.core import admin
from bots.discord.commands import flatten
from bots.discord.responder import Responder
from bots.discord.store import Store
from bots.discord.text import split
from db.access import Subject
from workers import memory_commands
from workers.events import Platform
from workers.tools import admin as tools_admin

log = logging.getLogger(__name__)


def _channel(interaction: discord.Interaction, options: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[str, str]:
    """The channel an admin names, else the one the command was used in (a thread's parent)."""
    chosen = options.get("channel")
    if chosen:
        raw = (data.get("resolved") or {}).get("channels", {}).get(str(chosen)) or {}
        return str(chosen), str(raw.get("name") or "")
    channel = interaction.channel
    if isinstance(channel, discord.Thread):
        return str(channel.parent_id), str(getattr(channel.parent, "name", "") or "")
    return str(interaction.channel_id), str(getattr(channel, "name", "") or "")


def label(kind: Subject, subject: str) -> str:
    """How Discord writes a member, role or channel in a message."""
    return {Subject.USER: f"<@{subject}>", Subject.ROLE: f"<@&{subject}>", Subject.CHANNEL: f"<#{subject}>"}[kind]


def _tenancy(interaction: discord.Interaction) -> admin.Tenancy:
    name = interaction.guild.name if interaction.guild else ""
    return admin.Tenancy(platform=str(Platform.DISCORD), id=str(interaction.guild_id), name=name)


async def _tools_or_memory(
    interaction: discord.Interaction,
    path: tuple[str, ...],
    options: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    sessions: Any,
    guild: admin.Tenancy,
) -> str:
    """`/admin tools …` and `/admin memory …`, through the handlers every surface shares."""
    if path[0] == "tools":
        words = f"{path[1] if path[1:] != ('list',) else ''} {options.get('names') or ''}"
        return await asyncio.to_thread(
            tools_admin.run_for,
            sessions,
            platform=Platform.DISCORD,
            tenant=guild.id,
            name=guild.name,
            text=words.strip(),
        )
    channel, name = _channel(interaction, options, data)
    said = {"add": str(options.get("fact") or ""), "forget": f"forget {options.get('which') or ''}"}
    return await asyncio.to_thread(
        memory_commands.run_channel_for,
        sessions,
        platform=Platform.DISCORD,
        tenant=guild.id,
        channel=channel,
        names=(guild.name, name),
        text=said.get(path[1] if len(path) > 1 else "list", ""),
    )


def count_option(value: object) -> int | None:
    """An integer option as sent; anything else (a string, a float, a 400-digit number) is None."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 10**9:
        return None
    return value


def _subject(options: Mapping[str, Any]) -> tuple[Subject, str] | None:
    named = [(kind, options[name]) for name, kind in (("user", Subject.USER), ("role", Subject.ROLE),
                                                      ("channel", Subject.CHANNEL)) if options.get(name)]  # fmt: skip
    if len(named) != 1:
        return None
    return named[0][0], str(named[0][1])


async def _prompt(interaction: discord.Interaction, data: Mapping[str, Any], *, store: Store, action: str) -> str:
    """`/admin prompt set|show|clear [channel]`."""
    _path, options = flatten(data)
    channel, name = _channel(interaction, options, data)
    return await asyncio.to_thread(
        admin.channel_prompt,
        store.sessions,
        tenancy=_tenancy(interaction),
        channel=channel,
        channel_name=name,
        where=label(Subject.CHANNEL, channel),
        text=str(options["text"]) if action == "set" else None,
        clear=action == "clear",
    )


async def run_admin(
    interaction: discord.Interaction,
    responder: Responder,
    data: Mapping[str, Any],
    *,
    store: Store,
    sync: Callable[[], Awaitable[int]],
) -> None:
    await responder.defer(ephemeral=True)
    if interaction.guild_id is None:
        await responder.send("Admin commands work inside a server.")
        return
    if not interaction.permissions.manage_guild:
        await responder.send("Only members with the Manage Server permission can change the assistant's settings.")
        return
    path, options = flatten(data)
    guild = _tenancy(interaction)
    sessions = store.sessions
    text: str
    if path and path[0] == "prompt":
        text = await _prompt(interaction, data, store=store, action=path[1] if len(path) > 1 else "show")
    elif path[:2] == ("access", "list"):
        text = await asyncio.to_thread(admin.list_access, sessions, tenancy=guild, label=label)
    elif path and path[0] == "access":
        subject = _subject(options)
        if subject is None:
            text = "Name exactly one member, role or channel."
        else:
            change = admin.Change(path[1])
            text = await asyncio.to_thread(
                admin.change_access, sessions, tenancy=guild, change=change, named=[subject], label=label
            )
    elif path and path[0] in {"tools", "memory"}:
        text = await _tools_or_memory(interaction, path, options, data, sessions=sessions, guild=guild)
    elif path == ("ratelimit",):
        per_minute = count_option(options.get("per_minute"))
        text = (
            "Give the rate as a whole number of requests per minute."
            if per_minute is None
            else await asyncio.to_thread(
                admin.rate_limit, sessions, tenancy=guild, per_minute=per_minute, ceiling=store.rate_ceiling
            )
        )
    elif path == ("sync",):
        count = await sync()
        text = f"Registered {count} commands with Discord."
    else:
        text = "Unknown admin command; see /admin in the command list."
    log.info("admin %s in guild %s by %s: %s", "/".join(path), guild.id, interaction.user.id, text.split("\n")[0])
    # A 2,000-character prompt quoted back does not fit one message: the rest follows.
    first, *rest = split(text) or [text]
    await responder.send(first)
    for part in rest:
        await responder.follow(part)
