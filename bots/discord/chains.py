"""Reply chains: which conversation a reply belongs to, and what it quotes that the bot never saw.

A conversation in a channel is a reply chain; its key is the chain's first message (or, for a chain
that starts at a slash command's answer, that interaction). The bot remembers the key of every
message it has seen; after a restart it walks the chain up through the REST API, so a conversation
continues where it was. Messages on the way that were never addressed to the bot are not in the
stored history, so they come back as quotes for the model.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import discord

from bots.discord.questions import asking, question
from workers.events import Quoted

log = logging.getLogger(__name__)

QUOTE_CHARS = 1500
MAX_QUOTES = 5


@dataclass(frozen=True, slots=True)
class Seen:
    key: str
    mine: bool


class ChainIndex:
    """message id → conversation key, for the most recent messages this process has seen."""

    def __init__(self, size: int = 20_000) -> None:
        self._seen: OrderedDict[int, Seen] = OrderedDict()
        self._size = size

    def get(self, message_id: int) -> Seen | None:
        seen = self._seen.get(message_id)
        if seen is not None:
            self._seen.move_to_end(message_id)
        return seen

    def remember(self, message_id: int, key: str, *, mine: bool = False) -> None:
        self._seen[message_id] = Seen(key, mine)
        self._seen.move_to_end(message_id)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)


def answer_key(message: discord.Message, index: ChainIndex) -> str | None:
    """The conversation an answer the bot posted belongs to (seen when its MESSAGE_CREATE comes back)."""
    if message.interaction_metadata is not None:
        return f"interaction:{message.interaction_metadata.id}"
    ref = message.reference
    if ref is not None and ref.message_id is not None:
        seen = index.get(ref.message_id)
        return seen.key if seen else None
    return None


@dataclass(frozen=True, slots=True)
class Chain:
    key: str
    quotes: tuple[Quoted, ...]


async def _parent(message: discord.Message) -> discord.Message | None:
    ref = message.reference
    if ref is None or ref.message_id is None or (ref.channel_id and ref.channel_id != message.channel.id):
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    try:
        return await message.channel.fetch_message(ref.message_id)
    except discord.HTTPException as exc:
        log.info("reply chain stops at message %s: %s", ref.message_id, exc)
        return None


def _addressed(message: discord.Message, parent: discord.Message | Seen | None, me: int) -> bool:
    """Was this message handed to the bot (so it is in the stored history already)?"""
    if any(user.id == me for user in message.mentions):
        return True
    if isinstance(parent, Seen):
        return parent.mine
    return parent is not None and parent.author.id == me


async def walk(message: discord.Message, *, me: int, index: ChainIndex, depth: int) -> Chain:
    """Follow `message`'s reply chain up to its first message, a known one, or `depth` messages."""
    visited: list[discord.Message] = []
    boundary: Seen | None = None
    key: str | None = None
    current = message
    for _ in range(depth):
        ref = current.reference
        if ref is None or ref.message_id is None:
            break
        seen = index.get(ref.message_id)
        if seen is not None:
            boundary, key = seen, seen.key
            break
        parent = await _parent(current)
        if parent is None:
            key = str(ref.message_id)
            break
        visited.append(parent)
        if parent.author.id == me and parent.interaction_metadata is not None:
            key = f"interaction:{parent.interaction_metadata.id}"
            break
        current = parent
    if key is None:
        key = str(current.id)
    for item in visited:
        index.remember(item.id, key, mine=item.author.id == me)
    return Chain(key=key, quotes=_quotes(visited, boundary, me))


def _quotes(visited: list[discord.Message], boundary: Seen | None, me: int) -> tuple[Quoted, ...]:
    quotes: list[Quoted] = []
    for position, item in enumerate(visited):
        parent: discord.Message | Seen | None = visited[position + 1] if position + 1 < len(visited) else boundary
        if item.author.id == me or _addressed(item, parent, me) or not item.content.strip():
            continue
        quotes.append(Quoted(author=item.author.display_name, text=item.content[:QUOTE_CHARS]))
        command = asking(item)
        if command is not None:  # another app's answer: who asked it what comes before it
            quotes.append(question(command, app=item.author.display_name))
    return tuple(reversed(quotes[:MAX_QUOTES]))
