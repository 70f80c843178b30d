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
SHOWN_NOTE = "_(Stopped.)_"
NOTHING_SAID = "(Stopped before the answer began.)"


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


def ask_to_stop(sessions: sessionmaker[Session], leases: Leases, *, key: str, asker: Asker) -> Verdict:
    """Stop the answer to event `key` if `asker` may; the verdict says what happened."""
    with sessions() as session:
        status = events.status_of(session, key=key)
        payload = events.payload_of(session, key=key)
        session.rollback()
    if status is None or payload is None:
        return Verdict.UNKNOWN
    event = Event.from_dict(payload)
    if (str(event.tenant_platform), event.tenant) != (asker.platform, asker.tenant):
        return Verdict.UNKNOWN  # another tenant's event: as if it did not exist
    if event.user != asker.user and not asker.admin():
        return Verdict.NOT_YOURS
    if status in (Status.DONE, Status.FAILED):
        return Verdict.FINISHED
    leases.stop(key)
    return Verdict.STOPPING


def latest_open(session: Session, *, platform: str, tenant: str, channel: str, user: str) -> str | None:
    """The key of this person's newest unfinished event in this channel (what a bare `/stop` stops)."""
    rows = session.execute(
        select(ProcessedEvent.key, ProcessedEvent.payload)
        .join(Tenant, Tenant.id == ProcessedEvent.tenant_id)
        .where(Tenant.platform == platform, Tenant.external_id == tenant)
        .where(ProcessedEvent.status.in_([str(Status.PENDING), str(Status.RUNNING)]))
        .order_by(ProcessedEvent.received_at.desc())
        .limit(200)
    ).all()
    for key, payload in rows:
        event = Event.from_dict(payload)
        if (str(event.tenant_platform), event.tenant, event.channel, event.user) == (platform, tenant, channel, user):
            return str(key)
    return None
