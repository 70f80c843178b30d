"""Messages of a conversation: store, read back as history, and forget."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from db.models import Channel, Conversation, Message, Tenant, User
from db.session import insert_new

T = TypeVar("T")


def add_message(
    session: Session,
    *,
    tenant_id: int,
    conversation_id: int,
    user_id: int | None,
    event_key: str,
    role: str,
    content: str,
    kind: str = "ask",
    attachments: dict[str, Any] | None = None,
    model: str = "",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    stopped: bool = False,
    follows_id: int | None = None,
) -> bool:
    """Insert one message; False when this event already has a message of this role (a redelivery).

    `follows_id` places a regenerated answer right after its question in the history."""
    return insert_new(
        session,
        Message,
        {
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "user_id": user_id,
            "event_key": event_key,
            "role": role,
            "kind": kind,
            "content": content,
            "attachments": attachments or {},
            "model": model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "stopped": stopped,
            "follows_id": follows_id,
        },
    )


def find_message(session: Session, *, tenant_id: int, event_key: str, role: str) -> Message | None:
    return session.scalars(
        select(Message).where(Message.tenant_id == tenant_id, Message.event_key == event_key, Message.role == role)
    ).first()


def turn_order() -> tuple[ColumnElement[Any], InstrumentedAttribute[int]]:
    """Messages in conversation order: a regenerated answer right after the question it answers."""
    return func.coalesce(Message.follows_id, Message.id), Message.id


def supersede(session: Session, *, tenant_id: int, conversation_id: int, event_key: str) -> None:
    """Mark the answer to `event_key` as asked again: kept (with its feedback), left out of the history."""
    session.execute(
        update(Message)
        .where(
            Message.tenant_id == tenant_id,
            Message.conversation_id == conversation_id,
            Message.event_key == event_key,
            Message.role == "assistant",
        )
        .values(superseded=True)
    )


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str
    author: str = ""
    # An answer's rounds of tool calls and results (`workers.tools.loop.round_record`), oldest first.
    tool_rounds: tuple[dict[str, Any], ...] = ()


def history(
    session: Session,
    *,
    tenant_id: int,
    conversation_id: int,
    before_id: int | ScalarSelect[Any] | None,
    limit: int,
    exclude_kinds: tuple[str, ...] = (),
) -> list[Turn]:
    """The last `limit` messages before `before_id` (an id, or a subquery giving one), oldest first; answers
    asked again are left out, their newest version taking their place."""
    query = (
        select(Message.role, Message.content, Message.attachments, User.display_name)
        .outerjoin(User, User.id == Message.user_id)
        .where(Message.tenant_id == tenant_id, Message.conversation_id == conversation_id, ~Message.superseded)
    )
    if exclude_kinds:
        query = query.where(Message.kind.not_in(exclude_kinds))
    position, made = turn_order()
    if before_id is not None:
        query = query.where(position < before_id)
    rows = session.execute(query.order_by(position.desc(), made.desc()).limit(limit)).all()
    return [
        Turn(
            role=role,
            content=content,
            author=(name or "") if role == "user" else "",
            tool_rounds=tuple((extra or {}).get("tool_rounds", ())),
        )
        for role, content, extra, name in reversed(rows)
    ]


@dataclass(frozen=True, slots=True)
class Forgotten:
    conversations: int
    messages: int


def forget_user(session: Session, *, tenant_id: int, user_id: int) -> Forgotten:
    """Delete what the person wrote and the answers they were given, and the conversations they started
    that hold nothing else. Other people's messages stay, also in a conversation this person started."""
    mine = (Message.tenant_id == tenant_id, Message.user_id == user_id)
    counted = session.scalar(select(func.count(Message.id)).where(*mine))
    session.execute(delete(Message).where(*mine))
    others = select(Message.id).where(Message.conversation_id == Conversation.id)
    emptied = select(Conversation.id).where(
        Conversation.tenant_id == tenant_id, Conversation.started_by_id == user_id, ~others.exists()
    )
    emptied_ids = list(session.scalars(emptied))
    session.execute(delete(Conversation).where(Conversation.tenant_id == tenant_id, Conversation.id.in_(emptied_ids)))
    # Usage stays for accounting, but no longer points at the person.
    return Forgotten(conversations=len(emptied_ids), messages=int(counted or 0))


def speakers(session: Session, *, platform: str, tenant: str, channel: str, thread: str) -> set[str]:
    """The names of the people who talked with LLMOS in this thread, by the platform's own ids."""
    query = select(User.display_name).select_from(Message).join(User, User.id == Message.user_id).distinct()
    found = session.scalars(_in_thread(query, platform=platform, tenant=tenant, channel=channel, thread=thread))
    return {name for name in found if name}


def _in_thread(query: Select[T], *, platform: str, tenant: str, channel: str, thread: str) -> Select[T]:
    """`query` narrowed to the messages of one thread, named by the platform's own ids."""
    return (
        query.join(Conversation, Conversation.id == Message.conversation_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Tenant, Tenant.id == Conversation.tenant_id)
        .where(
            Tenant.platform == platform,
            Tenant.external_id == tenant,
            Channel.tenant_id == Tenant.id,
            Channel.external_id == channel,
            Conversation.thread_key == thread,
            Message.tenant_id == Tenant.id,
        )
    )


def known_thread(session: Session, *, platform: str, tenant: str, channel: str, thread: str) -> bool:
    """True when LLMOS already takes part in this thread (a message of it was accepted and stored), by
    the platform's own ids: such a thread continues without the bot being named again."""
    query = select(Message.id)
    found = session.scalar(_in_thread(query, platform=platform, tenant=tenant, channel=channel, thread=thread).limit(1))
    return found is not None


def questions(
    session: Session, *, platform: str, tenant: str, event_keys: Collection[str]
) -> dict[str, tuple[str, str]]:
    """What these events asked in this tenant, by event key: (kind, text) of each stored question."""
    if not event_keys:
        return {}
    rows = session.execute(
        select(Message.event_key, Message.kind, Message.content)
        .join(Tenant, Tenant.id == Message.tenant_id)
        .where(
            Tenant.platform == platform,
            Tenant.external_id == tenant,
            Message.role == "user",
            Message.event_key.in_(list(event_keys)),
        )
    )
    return {key: (kind, content) for key, kind, content in rows}
