"""Searching a tenant's stored conversations for the `search_conversations` tool.

Only what the asker could see: conversations in the channels where they have written themselves
(their DMs and terminal sessions included), in their own tenant. Matching is case-insensitive
substring matching on every word (SQL LIKE), the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Channel, Conversation, Message, Tenant

MAX_WORDS = 8


@dataclass(frozen=True, slots=True)
class Hit:
    channel: str
    thread: str
    role: str
    content: str
    created_at: datetime
    link: str | None


def _like(word: str) -> str:
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    session: Session, *, tenant_id: int, user_id: int, query: str, limit: int = 5, exclude_event: str = ""
) -> list[Hit]:
    words = [w for w in query.split() if w][:MAX_WORDS]
    if not words:
        return []
    seen_channels = (
        select(Conversation.channel_id)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Message.tenant_id == tenant_id, Message.user_id == user_id, Message.role == "user")
        .distinct()
    )
    found = (
        select(Message, Conversation.thread_key, Channel.external_id, Tenant.platform, Tenant.external_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .join(Tenant, Tenant.id == Message.tenant_id)
        .where(
            Message.tenant_id == tenant_id,
            Conversation.tenant_id == tenant_id,
            Conversation.channel_id.in_(seen_channels),
            Message.role.in_(("user", "assistant")),
            Message.event_key != exclude_event,
            *(func.lower(Message.content).like(_like(w), escape="\\") for w in words),
        )
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [
        Hit(
            channel=channel,
            thread=thread,
            role=message.role,
            content=message.content,
            created_at=message.created_at,
            link=_link(platform, team, channel, message),
        )
        for message, thread, channel, platform, team in session.execute(found).all()
    ]


def _link(platform: str, team: str, channel: str, message: Message) -> str | None:
    """A link to the message where the platform has stable ones (Discord); None elsewhere."""
    if platform != "discord" or message.role != "user":
        return None
    message_id = message.event_key.rsplit(":", 1)[-1]
    if not message_id.isdigit():
        return None
    return f"https://discord.com/channels/{team}/{channel}/{message_id}"
