"""Processed-event keys and worker leases: what makes a redelivered task invisible to the user.

An adapter registers each inbound event once (a platform retry finds the key and stops there).
A worker must hold the event's lease to answer it; the lease is renewed while tokens stream, so a
second delivery of a live task waits, and the delivery after a killed worker takes over and resumes
the answer message the first one had started.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from db.models import ProcessedEvent
from db.session import insert_new


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    # The answer is stored but the platform may not show all of it yet.
    ANSWERED = "answered"
    DONE = "done"
    FAILED = "failed"


def register(
    session: Session,
    *,
    key: str,
    tenant_id: int,
    payload: dict[str, Any],
    kind: str = "ask",
    priority: str = "interactive",
    received_at: float | None = None,
) -> bool:
    """True when the key is new; False when this event was seen before."""
    return insert_new(
        session,
        ProcessedEvent,
        {
            "key": key,
            "tenant_id": tenant_id,
            "status": Status.PENDING,
            "payload": payload,
            "kind": kind,
            "priority": priority,
            "received_at": received_at or time.time(),
        },
    )


@dataclass(frozen=True, slots=True)
class Claim:
    status: Status | None
    owned: bool
    reply_ref: str | None = None
    retry_in: float = 0.0
    attempts: int = 0


def claim(session: Session, *, key: str, owner: str, ttl: float) -> Claim:
    """Take the lease on an event unless it is done or another live worker holds it."""
    now = time.time()
    result = session.execute(
        update(ProcessedEvent)
        .where(
            ProcessedEvent.key == key,
            ProcessedEvent.status != Status.DONE,
            or_(
                ProcessedEvent.lease_until.is_(None),
                ProcessedEvent.lease_until < now,
                ProcessedEvent.lease_owner == owner,
            ),
        )
        .values(
            status=Status.RUNNING,
            lease_owner=owner,
            lease_until=now + ttl,
            attempts=ProcessedEvent.attempts + 1,
            started_at=func.coalesce(ProcessedEvent.started_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    row = session.get(ProcessedEvent, key, populate_existing=True)
    if row is None:
        return Claim(status=None, owned=False)
    owned = bool(getattr(result, "rowcount", 0))
    retry_in = 0.0 if owned else max(0.0, (row.lease_until or now) - now)
    return Claim(
        status=Status(row.status), owned=owned, reply_ref=row.reply_ref, retry_in=retry_in, attempts=row.attempts
    )


def renew(session: Session, *, key: str, owner: str, ttl: float) -> bool:
    """Extend our lease; False means another worker has taken the event over."""
    result = session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.key == key, ProcessedEvent.lease_owner == owner)
        .values(lease_until=time.time() + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def set_reply_ref(session: Session, *, key: str, owner: str, reply_ref: str) -> None:
    session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.key == key, ProcessedEvent.lease_owner == owner)
        .values(reply_ref=reply_ref)
        .execution_options(synchronize_session=False)
    )


def finish(session: Session, *, key: str, owner: str, status: Status, error: str | None = None) -> bool:
    """Move the event on; done or failed also release the lease. False if we no longer held it."""
    values: dict[str, Any] = {"status": status, "error": error}
    if status in {Status.DONE, Status.FAILED}:
        values.update(lease_owner=None, lease_until=None, finished_at=time.time())
    result = session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.key == key, ProcessedEvent.lease_owner == owner)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def unregister(session: Session, *, key: str) -> None:
    """Forget a key registered in this transaction that was then turned away (a limit), before any work."""
    session.execute(delete(ProcessedEvent).where(ProcessedEvent.key == key, ProcessedEvent.status == Status.PENDING))


def status_of(session: Session, *, key: str) -> Status | None:
    value = session.scalar(select(ProcessedEvent.status).where(ProcessedEvent.key == key))
    return Status(value) if value else None


def payload_of(session: Session, *, key: str, tenant_id: int) -> dict[str, Any] | None:
    row = session.scalars(
        select(ProcessedEvent).where(ProcessedEvent.key == key, ProcessedEvent.tenant_id == tenant_id)
    ).first()
    return dict(row.payload) if row is not None else None


def failed_keys(session: Session, *, limit: int = 100) -> list[tuple[str, int]]:
    """Events whose answer failed (engine down), oldest first, for re-sending once it is back."""
    rows = session.execute(
        select(ProcessedEvent.key, ProcessedEvent.tenant_id)
        .where(ProcessedEvent.status == Status.FAILED)
        .order_by(ProcessedEvent.created_at)
        .limit(limit)
    ).all()
    return [(key, tenant_id) for key, tenant_id in rows]


def mark(session: Session, *, key: str, status: Status, error: str | None = None) -> None:
    """Set an event's status outside any lease (the adapter's own bookkeeping)."""
    session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.key == key)
        .values(status=status, error=error)
        .execution_options(synchronize_session=False)
    )


def first_token(session: Session, *, key: str, owner: str) -> None:
    session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.key == key, ProcessedEvent.lease_owner == owner, ProcessedEvent.first_token_at.is_(None))
        .values(first_token_at=time.time())
        .execution_options(synchronize_session=False)
    )
