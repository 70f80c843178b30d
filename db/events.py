"""The event ledger: one row per acknowledged event, the single home of its state.

An adapter registers each inbound event in the same transaction as its message (a platform retry
finds the key and stops there). A worker claims it, which counts an attempt; the attempt number is
the fence: the answer is stored only by the attempt that still holds the event, so a worker that was
taken over can never store. Which live worker holds an event, and where its answer is shown, is
fast state beside this (`workers.leases`); the reconciler puts that state right from these rows.

States: pending (waiting to be answered) -> running (claimed) -> done, or failed (with `failure`
saying why: the engine was unreachable, the event killed its workers, or an error). An engine
failure goes back to pending when the engine answers again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.models import ProcessedEvent, Tenant
from db.session import insert_new


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Failure(StrEnum):
    ENGINE = "engine"  # the engine was unreachable: sent again when it answers
    POISON = "poison"  # every attempt died with its worker
    ERROR = "error"  # LLMOS itself failed; not retried
    DROPPED = "dropped"  # an engine failure older than the re-send window


OPEN = (Status.PENDING, Status.RUNNING)


def register(
    session: Session,
    *,
    key: str,
    tenant_id: int,
    payload: dict[str, Any],
    kind: str = "ask",
    priority: str = "interactive",
    received_at: float | None = None,
    conversation_id: int | None = None,
    user_id: int | None = None,
    channel_id: int | None = None,
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
            "conversation_id": conversation_id,
            "user_id": user_id,
            "channel_id": channel_id,
        },
    )


def unregister(session: Session, *, key: str) -> None:
    """Forget a key registered in this transaction that was then turned away (a limit), before any work."""
    session.execute(delete(ProcessedEvent).where(ProcessedEvent.key == key, ProcessedEvent.status == Status.PENDING))


@dataclass(frozen=True, slots=True)
class Claimed:
    """This worker now answers the event, as attempt `fence`."""

    fence: int
    tenant_id: int
    conversation_id: int | None
    user_id: int | None
    channel_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NotClaimed:
    """The event is finished, unknown, or out of attempts (`poisoned`: this worker just failed it)."""

    status: Status | None
    payload: dict[str, Any] | None = None
    tenant_id: int | None = None
    poisoned: bool = False


def claim(session: Session, *, key: str, owner: str, max_attempts: int) -> Claimed | NotClaimed:
    """Count an attempt and take the event, unless it is finished or has used its attempts."""
    now = time.time()
    row = session.execute(
        update(ProcessedEvent)
        .where(ProcessedEvent.key == key, ProcessedEvent.status.in_(OPEN), ProcessedEvent.attempts < max_attempts)
        .values(
            status=Status.RUNNING,
            lease_owner=owner,
            attempts=ProcessedEvent.attempts + 1,
            started_at=func.coalesce(ProcessedEvent.started_at, now),
        )
        .returning(
            ProcessedEvent.attempts,
            ProcessedEvent.tenant_id,
            ProcessedEvent.conversation_id,
            ProcessedEvent.user_id,
            ProcessedEvent.channel_id,
            ProcessedEvent.payload,
        )
        .execution_options(synchronize_session=False)
    ).first()
    if row is not None:
        return Claimed(
            fence=row.attempts,
            tenant_id=row.tenant_id,
            conversation_id=row.conversation_id,
            user_id=row.user_id,
            channel_id=row.channel_id,
            payload=dict(row.payload),
        )
    found = session.execute(
        select(ProcessedEvent.status, ProcessedEvent.payload, ProcessedEvent.tenant_id).where(ProcessedEvent.key == key)
    ).first()
    if found is None:
        return NotClaimed(status=None)
    status = Status(found.status)
    if status not in OPEN:
        return NotClaimed(status=status, payload=dict(found.payload), tenant_id=found.tenant_id)
    # Open but out of attempts: each one died with its worker. Fail it here, once.
    poisoned = _close(session, key=key, fence=None, status=Status.FAILED, failure=Failure.POISON, error="poison")
    return NotClaimed(status=Status.FAILED, payload=dict(found.payload), tenant_id=found.tenant_id, poisoned=poisoned)


def _close(
    session: Session,
    *,
    key: str,
    fence: int | None,
    status: Status,
    failure: Failure | None = None,
    error: str | None = None,
    reply_ref: str | None = None,
    first_token_at: float | None = None,
) -> bool:
    """Move an open event to done or failed; with `fence`, only if that attempt still holds it."""
    query = update(ProcessedEvent).where(ProcessedEvent.key == key, ProcessedEvent.status.in_(OPEN))
    if fence is not None:
        query = query.where(ProcessedEvent.attempts == fence, ProcessedEvent.status == Status.RUNNING)
    values: dict[str, Any] = {
        "status": status,
        "failure": failure,
        "error": error[:2000] if error else None,
        "lease_owner": None,
        "finished_at": time.time(),
    }
    if reply_ref is not None:
        values["reply_ref"] = reply_ref
    if first_token_at is not None:
        values["first_token_at"] = first_token_at
    result = session.execute(query.values(**values).execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def finish(session: Session, *, key: str, fence: int, first_token_at: float | None = None) -> bool:
    """Mark the event done in the answer's own transaction; False if another attempt holds it now."""
    return _close(session, key=key, fence=fence, status=Status.DONE, first_token_at=first_token_at)


def fail(session: Session, *, key: str, fence: int, failure: Failure, error: str, reply_ref: str | None = None) -> bool:
    """Mark the event failed; the reply handle is kept so a later answer replaces the apology."""
    return _close(
        session, key=key, fence=fence, status=Status.FAILED, failure=failure, error=error, reply_ref=reply_ref
    )


def reopen(session: Session, *, key: str) -> bool:
    """An engine failure goes back to pending, to be answered now that the engine is back.

    Attempts are not reset: an engine that fails every stream ends the event after its attempts."""
    return _from_engine_failure(session, key, status=Status.PENDING, error=None, failure=None, finished_at=None)


def drop(session: Session, *, key: str) -> bool:
    """An engine failure too old to answer now: mark it dropped (its person is told to ask again)."""
    return _from_engine_failure(session, key, failure=Failure.DROPPED)


def _from_engine_failure(session: Session, key: str, **values: Any) -> bool:
    result = session.execute(
        update(ProcessedEvent)
        .where(
            ProcessedEvent.key == key,
            ProcessedEvent.status == Status.FAILED,
            ProcessedEvent.failure == Failure.ENGINE,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class Open:
    key: str
    status: Status
    kind: str
    priority: str
    # "<platform>:<external id>" of the tenant the event counts in (the scheduler's fairness key).
    tenant: str
    received_at: float
    attempts: int = 0


def open_events(session: Session, *, limit: int = 1000) -> list[Open]:
    """Pending and running events, oldest first: what the reconciler compares with the fast state."""
    return _open(session, ProcessedEvent.status.in_(OPEN), limit=limit)


def open_events_for(session: Session, *, keys: list[str]) -> list[Open]:
    return _open(session, ProcessedEvent.key.in_(keys), ProcessedEvent.status.in_(OPEN), limit=len(keys))


def _open(session: Session, *where: Any, limit: int) -> list[Open]:
    rows = session.execute(
        select(
            ProcessedEvent.key,
            ProcessedEvent.status,
            ProcessedEvent.kind,
            ProcessedEvent.priority,
            Tenant.platform,
            Tenant.external_id,
            ProcessedEvent.received_at,
            ProcessedEvent.attempts,
        )
        .join(Tenant, Tenant.id == ProcessedEvent.tenant_id)
        .where(*where)
        .order_by(ProcessedEvent.received_at)
        .limit(limit)
    ).all()
    return [
        Open(
            key=r.key,
            status=Status(r.status),
            kind=r.kind,
            priority=r.priority,
            tenant=f"{r.platform}:{r.external_id}",
            received_at=r.received_at,
            attempts=r.attempts,
        )
        for r in rows
    ]


def engine_failures(session: Session, *, limit: int = 200) -> list[tuple[str, float]]:
    """Events failed because the engine was unreachable, oldest first: (key, received_at)."""
    rows = session.execute(
        select(ProcessedEvent.key, ProcessedEvent.received_at)
        .where(ProcessedEvent.status == Status.FAILED, ProcessedEvent.failure == Failure.ENGINE)
        .order_by(ProcessedEvent.received_at)
        .limit(limit)
    ).all()
    return [(key, received_at) for key, received_at in rows]


def status_of(session: Session, *, key: str) -> Status | None:
    value = session.scalar(select(ProcessedEvent.status).where(ProcessedEvent.key == key))
    return Status(value) if value else None


def answer_coming(session: Session, *, key: str) -> bool | None:
    """Whether event `key` will still be answered: waiting, or failed for the engine and sent again once it
    answers (True); done, dropped or failed for good (False); None while an attempt runs (it may yet fail)."""
    row = session.execute(
        select(ProcessedEvent.status, ProcessedEvent.failure).where(ProcessedEvent.key == key)
    ).first()
    if row is None:
        return False
    status, failure = row
    if status == Status.RUNNING:
        return None
    return status == Status.PENDING or (status == Status.FAILED and failure == Failure.ENGINE)


def payload_of(session: Session, *, key: str, tenant_id: int | None = None) -> dict[str, Any] | None:
    query = select(ProcessedEvent.payload).where(ProcessedEvent.key == key)
    if tenant_id is not None:
        query = query.where(ProcessedEvent.tenant_id == tenant_id)
    found = session.scalar(query)
    return dict(found) if found is not None else None
