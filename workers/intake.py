"""What every surface calls: store the inbound message, register its key, enqueue the event, and say what
the user must hear when it was not taken.

A platform retry of the same event finds its key and is acknowledged without a second answer. Surfaces
differ only in how they tell the user (a private Slack note, a Discord reply, an HTTP status, stderr).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import access, conversations, directory, events
from db.models import Tenant
from db.session import patiently
from workers.events import Event, Kind
from workers.places import place_of

log = logging.getLogger(__name__)

Enqueue = Callable[[Event], None]
Tell = Callable[[str], None]

# Deleting what LLMOS keeps about oneself: allowed to everyone, blocked or not.
OWN_DATA = frozenset({Kind.FORGET, Kind.FORGET_MEMORY})


class IntakeError(RuntimeError):
    """The message is stored but could not be queued now: the adapter tells the user it will be answered."""


@dataclass(frozen=True, slots=True)
class Submitted:
    key: str
    accepted: bool
    # Why the tenant's access rules or limits turned the message away; tell the user this.
    refused: str = ""
    # For a limit: seconds until the user may ask again.
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Limited:
    """A limit (request rate, token quota) turned the message away until `retry_after` seconds from now."""

    message: str
    retry_after: float


@runtime_checkable
class Gate(Protocol):
    """Limits checked after the access rules. The scheduler's enqueue (`Stack.enqueue`) is one, so every
    surface that submits through the stack has them without passing anything more."""

    def check(self, session: Session, *, event: Event, tenant_id: int, user_id: int) -> Limited | None: ...


class Turned(StrEnum):
    """Why an event was not taken."""

    # The access rules or a limit said no: asking again will not help (HTTP 403).
    REFUSED = "refused"
    # LLMOS could not store or queue it just now: asking again later may (HTTP 503).
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Handed:
    # Queued for an answer now (False too for a message handed over before: a retry or a redelivery).
    accepted: bool
    turned: Turned | None = None
    # What to tell the user when `turned` is set.
    message: str = ""
    # A limit turned it away: seconds until the user may ask again.
    retry_after: float | None = None


# What an HTTP surface (web chat, admin jobs) answers for each.
HTTP_STATUS = {Turned.REFUSED: 403, Turned.UNAVAILABLE: 503}


def hand_over(event: Event, *, sessions: sessionmaker[Session], enqueue: Enqueue, tell: Tell | None = None) -> Handed:
    """Submit `event` the way every surface does; `tell`, when given, hears why it was not taken."""
    handed = _hand_over(event, sessions=sessions, enqueue=enqueue)
    if handed.turned is not None and tell is not None:
        tell(handed.message)
    return handed


def _hand_over(event: Event, *, sessions: sessionmaker[Session], enqueue: Enqueue) -> Handed:
    try:
        submitted = submit(event, sessions=sessions, enqueue=enqueue)
    except IntakeError as exc:
        log.warning("event %s not queued: %s", event.key, exc)
        return Handed(accepted=False, turned=Turned.UNAVAILABLE, message=str(exc))
    if submitted.refused:
        return Handed(
            accepted=False, turned=Turned.REFUSED, message=submitted.refused, retry_after=submitted.retry_after
        )
    if not submitted.accepted:
        log.info("event %s was handed over before (a retry or a second delivery)", event.key)
    return Handed(accepted=submitted.accepted)


def gate_of(enqueue: Enqueue) -> Gate | None:
    """The limits an enqueue carries: the scheduler's enqueue is its own gate."""
    carrier: object = enqueue
    return carrier if isinstance(carrier, Gate) else None


def submit(event: Event, *, sessions: sessionmaker[Session], enqueue: Enqueue, gate: Gate | None = None) -> Submitted:
    gate = gate or gate_of(enqueue)
    # A platform may have been told "received" already: a restarting database is waited out.
    return patiently(lambda: _submit(event, sessions=sessions, enqueue=enqueue, gate=gate), what=f"event {event.key}")


def refusal(event: Event, *, sessions: sessionmaker[Session], gate: Gate | None = None) -> str:
    """What the access rules, then the limits in `gate`, would answer `event` ('' when they let it through).

    Asked before a surface shows anything of a request (a public header), so that a refused one
    leaves no trace where others can see it. `submit` checks again. A tenant never seen has no rules
    and has spent nothing; for a known one the asker's row is made, as `submit` would, to count them.
    """
    with sessions.begin() as session:  # a limit hit records its operator notice here
        tenant_id = session.scalar(
            select(Tenant.id).where(Tenant.platform == event.tenant_platform, Tenant.external_id == event.tenant)
        )
        if tenant_id is None:
            return ""
        refused = _refused(session, event, tenant_id)
        if refused or gate is None:
            return refused
        user_id = directory.user(session, tenant_id=tenant_id, external_id=event.user, display_name=event.user_name).id
        limited = gate.check(session, event=event, tenant_id=tenant_id, user_id=user_id)
        return "" if limited is None else limited.message


def _refused(session: Session, event: Event, tenant_id: int) -> str:
    if event.kind in OWN_DATA:
        return ""
    decision = access.check(session, tenant_id=tenant_id, user=event.user, channel=event.channel, roles=event.roles)
    return "" if decision.allowed else f"Sorry, {decision.reason}."


def _submit(event: Event, *, sessions: sessionmaker[Session], enqueue: Enqueue, gate: Gate | None) -> Submitted:
    with sessions.begin() as session:
        place = place_of(session, event)
        refused = _refused(session, event, place.tenant_id)
        if refused:
            log.info("event %s refused: %s", event.key, refused)
            return Submitted(key=event.key, accepted=False, refused=refused)
        registered = events.register(
            session,
            key=event.key,
            tenant_id=place.tenant_id,
            payload=event.to_dict(),
            kind=str(event.kind),
            priority=str(event.priority),
            received_at=event.received_at,
            conversation_id=place.conversation_id,
            user_id=place.user_id,
            channel_id=place.channel_id,
        )
        if not registered:
            log.info("event %s seen before; not queued again", event.key)
            return Submitted(key=event.key, accepted=False)
        # Limits are checked once the key is known to be new: a platform retry is never counted or refused.
        limited = gate.check(session, event=event, tenant_id=place.tenant_id, user_id=place.user_id) if gate else None
        if limited is not None:
            # Nothing is kept of a refused message, so the user can simply ask again later.
            events.unregister(session, key=event.key)
            log.info("event %s refused by a limit: %s", event.key, limited.message)
            return Submitted(key=event.key, accepted=False, refused=limited.message, retry_after=limited.retry_after)
        if not event.regenerates:  # a Regenerate asks a stored question again: no second user message
            conversations.add_message(
                session,
                tenant_id=place.tenant_id,
                conversation_id=place.conversation_id,
                user_id=place.user_id,
                event_key=event.key,
                role="user",
                content=event.text,
                kind=str(event.kind),
                attachments={
                    "files": [{"name": a.name, "type": a.mime_type, "size": a.size} for a in event.attachments]
                },
            )
    _enqueue(event, enqueue=enqueue)
    return Submitted(key=event.key, accepted=True)


def _enqueue(event: Event, *, enqueue: Enqueue) -> None:
    try:
        enqueue(event)
    except Exception as exc:
        # The event is in the ledger as pending: the reconciler queues it once the broker answers again.
        log.exception("event %s stored but not queued; the reconciler will queue it", event.key)
        raise IntakeError(
            "LLMOS could not queue your message right now; it is saved and will be answered once the queue is back"
        ) from exc
