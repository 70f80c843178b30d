"""Stopping an answer while it streams: who may ask, and the signal the answering worker reads.

Every surface asks the same way (a button on the answer, `/stop`): `ask_to_stop` checks the asker in
the ledger and sets a flag beside the event's lease. The worker streaming the answer looks at the
flag between chunks (at most every `CHECK_EVERY` seconds), closes the engine's stream, which aborts
the request in vLLM, and stores what was said so far, marked stopped. An event still waiting for
its turn is stopped the moment a worker takes it, so its slot is freed without asking the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db import events
from db.events import Status
from db.models import ProcessedEvent, Tenant
from workers.events import Event
from workers.leases import Leases

# How often a streaming worker looks for a stop: one store round trip per interval, not per token.
CHECK_EVERY = 0.25
# What stops one's own newest answer when typed to LLMOS on its own (any case, a trailing "!" or ".").
TYPED = frozenset({"stop", "/stop"})
SHOWN_NOTE = "_(Stopped.)_"
NOTHING_SAID = "(Stopped before the answer began.)"
# An answer waiting for the engine to come back, stopped: it will not be sent again.
STOPPED_WAITING = "(Stopped while waiting for the language engine: this question will not be answered.)"


class Stopped(Exception):
    """Someone stopped this answer; `text` is what the engine had streamed of it by then."""

    def __init__(self, text: str, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        super().__init__("stopped")
        self.text = text
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens


class Verdict(StrEnum):
    STOPPING = "stopping"
    NOT_YOURS = "not_yours"
    FINISHED = "finished"
    UNKNOWN = "unknown"


MESSAGES = {
    Verdict.STOPPING: "Stopping the answer.",
    Verdict.NOT_YOURS: "Only the person who asked, or an admin, can stop this answer.",
    Verdict.FINISHED: "That answer is already finished.",
    Verdict.UNKNOWN: "There is no answer of yours to stop here.",
}


@dataclass(frozen=True, slots=True)
class Asker:
    """Who pressed stop, as the surface knows them."""

    platform: str
    tenant: str
    user: str
    # The surface's own admin check (Slack workspace admins, Discord Manage Messages, ...), asked
    # only when someone else's answer is to be stopped.
    admin: Callable[[], bool] = field(default=lambda: False)


@dataclass(frozen=True, slots=True)
class Pressed:
    """The event a control was pressed on, its state, and whether the presser may use the control."""

    event: Event
    status: Status
    allowed: bool


def pressed_on(session: Session, *, key: str, asker: Asker) -> Pressed | None:
    """Event `key` as `asker` may see it: None when it is unknown or another tenant's (as if it did not
    exist); `allowed` when they asked it, or are an admin."""
    status = events.status_of(session, key=key)
    payload = events.payload_of(session, key=key)
    if status is None or payload is None:
        return None
    event = Event.from_dict(payload)
    if (str(event.tenant_platform), event.tenant) != (asker.platform, asker.tenant):
        return None
    return Pressed(event=event, status=status, allowed=event.user == asker.user or asker.admin())


def ask_to_stop(sessions: sessionmaker[Session], leases: Leases, *, key: str, asker: Asker) -> Verdict:
    """Stop the answer to event `key` if `asker` may; the verdict says what happened."""
    with sessions() as session:
        found = pressed_on(session, key=key, asker=asker)
        # Failed because the engine was down, and to be sent again once it is back: that can be stopped too.
        coming = found is not None and events.answer_coming(session, key=key)
        session.rollback()
    if found is None:
        return Verdict.UNKNOWN
    if not found.allowed:
        return Verdict.NOT_YOURS
    if found.status is Status.DONE or (found.status is Status.FAILED and not coming):
        return Verdict.FINISHED
    # A worker answering it stops and keeps what it said; one waiting for the engine is dropped by the
    # reconciler (`STOPPED_WAITING`).
    leases.stop(key)
    return Verdict.STOPPING


def typed_stop(text: str) -> bool:
    """Whether what someone typed to LLMOS asks it to stop ("stop", "/stop", "Stop!")."""
    return text.strip().rstrip("!.").strip().lower() in TYPED


def latest_open(
    session: Session, *, platform: str, tenant: str, channel: str, user: str, thread: str | None = None
) -> str | None:
    """The key of this person's newest unfinished event in this channel (or only in `thread` of it):
    what a bare `/stop` stops."""
    return newest(
        session,
        platform=platform,
        tenant=tenant,
        statuses=(Status.PENDING, Status.RUNNING),
        matches=lambda event: (
            (event.channel, event.user) == (channel, user) and (thread is None or event.thread == thread)
        ),
    )


def stop_latest(
    sessions: sessionmaker[Session], leases: Leases, *, asker: Asker, channel: str, thread: str | None = None
) -> Verdict:
    """A typed `/stop`: stop `asker`'s newest unfinished answer in `channel` (or in `thread` of it)."""
    with sessions() as session:
        key = latest_open(
            session, platform=asker.platform, tenant=asker.tenant, channel=channel, user=asker.user, thread=thread
        )
    return Verdict.UNKNOWN if key is None else ask_to_stop(sessions, leases, key=key, asker=asker)


def newest(
    session: Session, *, platform: str, tenant: str, statuses: tuple[Status, ...], matches: Callable[[Event], bool]
) -> str | None:
    """The key of the tenant's newest event in one of `statuses` that `matches` (among its last 200)."""
    rows = session.execute(
        select(ProcessedEvent.key, ProcessedEvent.payload)
        .join(Tenant, Tenant.id == ProcessedEvent.tenant_id)
        .where(Tenant.platform == platform, Tenant.external_id == tenant)
        .where(ProcessedEvent.status.in_([str(status) for status in statuses]))
        .order_by(ProcessedEvent.received_at.desc())
        .limit(200)
    ).all()
    for key, payload in rows:
        event = Event.from_dict(payload)
        if (str(event.tenant_platform), event.tenant) == (platform, tenant) and matches(event):
            return str(key)
    return None
