"""Find-or-create for tenants, users, channels and conversations, safe under concurrent workers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from db.models import Base, Channel, Conversation, Tenant, User

T = TypeVar("T", bound=Base)


def _get_or_create(session: Session, query: Select[T], make: Callable[[], T]) -> T:
    found = session.scalars(query).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = make()
            session.add(row)
        return row
    except IntegrityError:
        # Another worker inserted the same row between our select and insert.
        return session.scalars(query).one()


def tenant(session: Session, *, platform: str, external_id: str, name: str = "") -> Tenant:
    row = _get_or_create(
        session,
        select(Tenant).where(Tenant.platform == platform, Tenant.external_id == external_id),
        lambda: Tenant(platform=platform, external_id=external_id, name=name),
    )
    if name and row.name != name:
        row.name = name
    return row


def user(session: Session, *, tenant_id: int, external_id: str, display_name: str = "") -> User:
    row = _get_or_create(
        session,
        select(User).where(User.tenant_id == tenant_id, User.external_id == external_id),
        lambda: User(tenant_id=tenant_id, external_id=external_id, display_name=display_name),
    )
    if display_name and row.display_name != display_name:
        row.display_name = display_name
    return row


def channel(session: Session, *, tenant_id: int, external_id: str, name: str = "") -> Channel:
    row = _get_or_create(
        session,
        select(Channel).where(Channel.tenant_id == tenant_id, Channel.external_id == external_id),
        lambda: Channel(tenant_id=tenant_id, external_id=external_id, name=name),
    )
    if name and row.name != name:
        row.name = name
    return row


def conversation(
    session: Session, *, tenant_id: int, channel_id: int, thread_key: str, started_by_id: int | None
) -> Conversation:
    return _get_or_create(
        session,
        select(Conversation).where(
            Conversation.tenant_id == tenant_id,
            Conversation.channel_id == channel_id,
            Conversation.thread_key == thread_key,
        ),
        lambda: Conversation(
            tenant_id=tenant_id, channel_id=channel_id, thread_key=thread_key, started_by_id=started_by_id
        ),
    )


@dataclass(frozen=True, slots=True)
class Place:
    """The row ids an event resolves to."""

    tenant_id: int
    user_id: int
    channel_id: int
    conversation_id: int


def _known(
    session: Session,
    *,
    platform: str,
    tenant_external: str,
    user_external: str,
    channel_external: str,
    thread_key: str,
    names: tuple[str, str, str],
) -> Place | None:
    """The usual case in one query: every row exists and no name changed (else None: find or create them)."""
    row = session.execute(
        select(Tenant.id, User.id, Channel.id, Conversation.id, Tenant.name, User.display_name, Channel.name)
        .select_from(Tenant)
        .join(User, and_(User.tenant_id == Tenant.id, User.external_id == user_external))
        .join(Channel, and_(Channel.tenant_id == Tenant.id, Channel.external_id == channel_external))
        .join(
            Conversation,
            and_(
                Conversation.tenant_id == Tenant.id,
                Conversation.channel_id == Channel.id,
                Conversation.thread_key == thread_key,
            ),
        )
        .where(Tenant.platform == platform, Tenant.external_id == tenant_external)
    ).first()
    if row is None or any(given and given != stored for given, stored in zip(names, row[4:], strict=True)):
        return None
    return Place(tenant_id=row[0], user_id=row[1], channel_id=row[2], conversation_id=row[3])


def resolve(
    session: Session,
    *,
    platform: str,
    tenant_external: str,
    user_external: str,
    channel_external: str,
    thread_key: str,
    tenant_name: str = "",
    user_name: str = "",
    channel_name: str = "",
) -> Place:
    known = _known(
        session,
        platform=platform,
        tenant_external=tenant_external,
        user_external=user_external,
        channel_external=channel_external,
        thread_key=thread_key,
        names=(tenant_name, user_name, channel_name),
    )
    if known is not None:
        return known
    t = tenant(session, platform=platform, external_id=tenant_external, name=tenant_name)
    session.flush()
    u = user(session, tenant_id=t.id, external_id=user_external, display_name=user_name)
    c = channel(session, tenant_id=t.id, external_id=channel_external, name=channel_name)
    session.flush()
    conv = conversation(session, tenant_id=t.id, channel_id=c.id, thread_key=thread_key, started_by_id=u.id)
    session.flush()
    return Place(tenant_id=t.id, user_id=u.id, channel_id=c.id, conversation_id=conv.id)
