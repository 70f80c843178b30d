"""Deleting one person's data: conversations, messages, memories, preferences, queued copies of their messages.

Usage rows stay for accounting but lose the link to the person (the foreign key is SET NULL), and
processed-event rows keep their key, so a platform retry of an old message is still recognised, but
lose the copy of the message they carried.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db import conversations, knowledge, memories
from db.models import Preference, ProcessedEvent, User
from db.preferences import Scope


@dataclass(frozen=True, slots=True)
class Erased:
    conversations: int
    messages: int
    preferences: int
    memories: int
    event_keys: tuple[str, ...]


def person(session: Session, *, tenant_id: int, user: User) -> Erased:
    forgotten = conversations.forget_user(session, tenant_id=tenant_id, user_id=user.id)
    remembered = memories.forget_person(session, tenant_id=tenant_id, user_id=user.id)
    knowledge.unname_adder(session, tenant_id=tenant_id, added_by=user.external_id)
    prefs = session.execute(
        delete(Preference).where(
            Preference.tenant_id == tenant_id, Preference.scope == Scope.USER, Preference.scope_ref == str(user.id)
        )
    )
    keys = tuple(
        session.scalars(
            select(ProcessedEvent.key).where(
                ProcessedEvent.tenant_id == tenant_id, ProcessedEvent.payload["user"].as_string() == user.external_id
            )
        )
    )
    if keys:
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.tenant_id == tenant_id, ProcessedEvent.key.in_(keys))
            .values(payload={}, error=None)
            .execution_options(synchronize_session=False)
        )
    session.delete(user)
    return Erased(
        conversations=forgotten.conversations,
        messages=forgotten.messages,
        preferences=int(getattr(prefs, "rowcount", 0) or 0),
        memories=remembered,
        event_keys=keys,
    )
