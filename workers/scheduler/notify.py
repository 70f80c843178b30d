"""The "queued, about N s" note: shown through the event's own reply sink, where the answer will appear.

It runs as a small Celery task on the interactive queue because sinks live in the workers (a surface
process may have no platform client). The note opens the answer message early and records its handle
as the event's `reply_ref`, so when the event's turn comes the pipeline resumes that same message
(as it does after a redelivery) and the answer replaces the note instead of arriving as a second message.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from sqlalchemy import select, update

from db.events import Status
from db.models import ProcessedEvent
from workers import runtime as runtimes
from workers.events import Event
from workers.runtime import Runtime
from workers.sinks import StatusSink

log = logging.getLogger(__name__)

TELL_QUEUED = "llmos.tell_queued"


@shared_task(bind=True, name=TELL_QUEUED, ignore_result=True)  # type: ignore[untyped-decorator]
def tell_queued(self: Task, payload: dict[str, Any], text: str) -> bool:
    return tell(Event.from_dict(payload), text, runtimes.of(self.app))


def tell(event: Event, text: str, runtime: Runtime) -> bool:
    """Show `text` for an event still waiting; False when its answer has already begun."""
    with runtime.sessions() as session:
        row = session.execute(
            select(ProcessedEvent.status, ProcessedEvent.reply_ref).where(ProcessedEvent.key == event.key)
        ).first()
        session.rollback()
    if row is None or row.status != Status.PENDING or row.reply_ref:
        return False
    sink = runtime.sinks.for_event(event)
    ref = sink.start(resume_ref=None)
    if isinstance(sink, StatusSink):
        sink.status(text)
    else:
        # A sink without notes shows it as the start of the answer; the answer's first update replaces it.
        sink.append(text)
    with runtime.sessions.begin() as session:
        result = session.execute(
            update(ProcessedEvent)
            .where(
                ProcessedEvent.key == event.key,
                ProcessedEvent.status == Status.PENDING,
                ProcessedEvent.reply_ref.is_(None),
            )
            .values(reply_ref=ref)
            .execution_options(synchronize_session=False)
        )
    if not getattr(result, "rowcount", 0):
        log.info("event %s started while its queued note was shown", event.key)
        return False
    return True
