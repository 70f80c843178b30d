"""Memories: short facts a person (or a channel admin, for a channel) asked the assistant to keep.

Numbered for people as `/memories` lists them: 1 is the most recent. Every query is tenant-scoped and
a person's queries also name the person, so one person's memories never reach another's prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from db.models import Memory

# Longest single memory; a longer one is refused with this number in the message.
MAX_CHARS = 500
# Memories kept per person; the oldest go when a new one would exceed it.
MAX_PER_PERSON = 200


@dataclass(frozen=True, slots=True)
class Remembered:
    content: str
    # True for a channel's memory, False for the person's own.
    channel: bool = False


def add(session: Session, *, tenant_id: int, user_id: int | None, channel_id: int | None, content: str) -> Memory:
    """Save one memory: the person's (`user_id`), or the channel's (`channel_id` with no user)."""
    if user_id is None and channel_id is None:
        raise ValueError("a memory belongs to a person or a channel")
    row = Memory(
        tenant_id=tenant_id, user_id=user_id, channel_id=None if user_id is not None else channel_id, content=content
    )
    session.add(row)
    session.flush()
    _prune(session, tenant_id=tenant_id, user_id=user_id, channel_id=channel_id)
    return row


def _owner(tenant_id: int, user_id: int | None, channel_id: int | None) -> list[ColumnElement[bool]]:
    if user_id is not None:
        return [Memory.tenant_id == tenant_id, Memory.user_id == user_id]
    return [Memory.tenant_id == tenant_id, Memory.user_id.is_(None), Memory.channel_id == channel_id]


def _prune(session: Session, *, tenant_id: int, user_id: int | None, channel_id: int | None) -> None:
    keep = (
        select(Memory.id)
        .where(*_owner(tenant_id, user_id, channel_id))
        .order_by(Memory.id.desc())
        .limit(MAX_PER_PERSON)
    )
    kept = list(session.scalars(keep))
    if len(kept) == MAX_PER_PERSON:
        session.execute(delete(Memory).where(*_owner(tenant_id, user_id, channel_id), Memory.id < kept[-1]))


def listed(session: Session, *, tenant_id: int, user_id: int | None, channel_id: int | None = None) -> list[Memory]:
    """A person's memories (or, with no user, a channel's), most recent first: index 0 is number 1."""
    query = select(Memory).where(*_owner(tenant_id, user_id, channel_id))
    return list(session.scalars(query.order_by(Memory.id.desc())))


def for_prompt(session: Session, *, tenant_id: int, user_id: int, channel_id: int, limit: int) -> list[Remembered]:
    """The person's memories and their channel's, most recent first, as the prompt shows them."""
    rows = session.execute(
        select(Memory.content, Memory.user_id)
        .where(
            Memory.tenant_id == tenant_id,
            or_(Memory.user_id == user_id, (Memory.user_id.is_(None)) & (Memory.channel_id == channel_id)),
        )
        .order_by(Memory.id.desc())
        .limit(limit)
    ).all()
    return [Remembered(content=content, channel=owner is None) for content, owner in rows]


def forget(
    session: Session, *, tenant_id: int, user_id: int | None, channel_id: int | None = None, number: int | None
) -> int:
    """Delete memory `number` (as listed, 1 = most recent), or every one with None; returns how many went."""
    if number is None:
        result = session.execute(delete(Memory).where(*_owner(tenant_id, user_id, channel_id)))
        return int(getattr(result, "rowcount", 0) or 0)
    rows = listed(session, tenant_id=tenant_id, user_id=user_id, channel_id=channel_id)
    if not 1 <= number <= len(rows):
        return 0
    session.delete(rows[number - 1])
    return 1


def forget_person(session: Session, *, tenant_id: int, user_id: int) -> int:
    """Every memory of one person (their data is being deleted)."""
    return forget(session, tenant_id=tenant_id, user_id=user_id, number=None)
