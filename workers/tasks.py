"""The Celery task: ~20 lines that hand an event to the pipeline and turn `Busy` into a later retry."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from workers import pipeline
from workers import runtime as runtimes
from workers.events import Event

log = logging.getLogger(__name__)

HANDLE_EVENT = "llmos.handle_event"


@shared_task(bind=True, name=HANDLE_EVENT, acks_late=True, reject_on_worker_lost=True, max_retries=200)
def handle_event(self: Task, payload: dict[str, Any]) -> str:
    event = Event.from_dict(payload)
    runtime = runtimes.of(self.app)
    try:
        outcome = pipeline.process(event, runtime)
    except pipeline.Busy as busy:
        # Another worker is answering this event right now; look again once its lease could lapse.
        raise self.retry(countdown=min(busy.retry_in + 1.0, 60.0)) from None
    if runtime.on_finished is not None:
        runtime.on_finished(event, str(outcome))
    log.info("event %s: %s", event.key, outcome)
    return str(outcome)
