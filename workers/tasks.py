"""The Celery task: a few lines that hand an event to the pipeline and turn `Busy` into a later retry.

The message carries a ticket (the event's key, kind and priority class), never the event itself: the
ledger row holds the one copy, which the worker reads in the same transaction that claims it, so a
message stays a few hundred bytes whatever the person attached.
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from celery import Celery, Task, shared_task

from workers import pipeline
from workers.events import PriorityClass
from workers.queues import route_for
from workers.runtime import current

log = logging.getLogger(__name__)

HANDLE_EVENT = "llmos.handle_event"


class Ticket(TypedDict):
    key: str
    kind: str
    priority: str


def ticket(*, key: str, kind: str, priority: str) -> Ticket:
    return {"key": key, "kind": str(kind), "priority": str(priority)}


def send(app: Celery, item: Ticket) -> None:
    """Hand an event to Celery, on the queue and with the priority of its class."""
    route = route_for(PriorityClass(item["priority"]))
    app.send_task(HANDLE_EVENT, args=[item], queue=str(route.queue), priority=route.celery_priority)


@shared_task(bind=True, name=HANDLE_EVENT, acks_late=True, reject_on_worker_lost=True, max_retries=200)
def handle_event(self: Task, item: dict[str, Any]) -> str:
    runtime = current()
    key = str(item["key"])
    try:
        result = pipeline.process(key, runtime)
    except pipeline.Busy as busy:
        # Another worker is answering this event right now; look again once its lease could lapse.
        raise self.retry(countdown=min(busy.retry_in + 1.0, 60.0)) from None
    except Exception:
        # The event stays open in the ledger (the reconciler sends it again); its slot is freed now.
        _finished(key, item, pipeline.Result(pipeline.Outcome.INTERRUPTED))
        raise
    _finished(key, item, result)
    log.info("event %s: %s", key, result.outcome)
    return str(result.outcome)


def _finished(key: str, item: dict[str, Any], result: pipeline.Result) -> None:
    runtime = current()
    if runtime.on_finished is not None and result.outcome is not pipeline.Outcome.DUPLICATE:
        runtime.on_finished(key, str(item.get("kind", "")), str(result.outcome), result.tokens)
