"""Notes shown through an event's own reply sink before (or instead of) its answer.

They run as small Celery tasks on the interactive queue because sinks live in the workers (a surface
process may have no platform client). The "queued, about N s" note opens the answer message early
and keeps its handle beside the event's lease, so when the event's turn comes the pipeline takes that
same message over and the answer replaces the note. The reconciler uses `tell_failed` to close an
event it will not answer (an engine failure too old to send again), in the message that apologised.
"""

from __future__ import annotations

import logging

from celery import shared_task

from db import events
from db.events import Status
from workers.events import Event
from workers.runtime import Runtime, current
from workers.sinks import StatusSink

log = logging.getLogger(__name__)

TELL_QUEUED = "llmos.tell_queued"
TELL_FAILED = "llmos.tell_failed"


@shared_task(name=TELL_QUEUED, ignore_result=True)  # type: ignore[untyped-decorator]
def tell_queued(key: str, text: str) -> bool:
    return tell(key, text, current())


@shared_task(name=TELL_FAILED, ignore_result=True)  # type: ignore[untyped-decorator]
def tell_failed(key: str, text: str) -> bool:
    runtime = current()
    event = _event(key, runtime, status=Status.FAILED)
    if event is None:
        return False
    sink = runtime.sinks.for_event(event, runtime)
    sink.start(resume_ref=runtime.leases.reply(key))
    sink.fail(text)
    runtime.leases.release(key, "", keep_reply=False)
    return True


def _event(key: str, runtime: Runtime, *, status: Status) -> Event | None:
    with runtime.sessions() as session:
        found = events.status_of(session, key=key)
        payload = events.payload_of(session, key=key) if found is status else None
        session.rollback()
    return Event.from_dict(payload) if payload is not None else None


def tell(key: str, text: str, runtime: Runtime) -> bool:
    """Show `text` for an event still waiting; False when its answer has already begun."""
    event = _event(key, runtime, status=Status.PENDING)
    if event is None or runtime.leases.reply(key) is not None:
        return False
    sink = runtime.sinks.for_event(event, runtime)
    ref = sink.start(resume_ref=None)
    if isinstance(sink, StatusSink):
        sink.status(text)
    else:
        # A sink without notes shows it as the start of the answer; the answer's first update replaces it.
        sink.append(text)
    if not runtime.leases.set_reply(key, ref, only_new=True):
        log.info("event %s started while its queued note was shown", key)
        return False
    return True
