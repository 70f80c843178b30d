"""The benchmark's side of LLMOS: a surface that submits events and follows their answers on the reply bus."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete

from db.models import Base
from workers.events import Event, Platform, PriorityClass
from workers.intake import Enqueue, submit
from workers.queues import Queue
from workers.replybus import follow
from workers.scheduler.settings import load_scheduler_settings
from workers.settings import load_settings
from workers.stack import Stack
from workers.tasks import HANDLE_EVENT, ticket

INTERACTIVE, BATCH = PriorityClass.INTERACTIVE, PriorityClass.BATCH


@dataclass
class Timing:
    key: str
    sent: float
    sent_wall: float = 0.0
    # When intake returned: the message is stored and queued.
    queued: float | None = None
    first: float | None = None
    last_delta: float | None = None
    done: float | None = None
    error: str = ""

    @property
    def wait(self) -> float:
        """What the person waits for: submit to the first word of the answer on their screen."""
        return (self.first or self.done or time.monotonic()) - self.sent


def client_stack(*, home: Path, database_url: str, redis_url: str) -> Stack:
    """A surface process's stack: store, broker, bus and scheduler; no worker, no engine."""
    settings = load_settings(
        _env_file=None, llmos_home=home, database_url=database_url, redis_url=redis_url, redis_autodetect=False
    )
    scheduling = load_scheduler_settings(_env_file=None, user_requests_per_minute=1_000_000)
    return Stack(settings, scheduling=scheduling)


def fifo_enqueue(stack: Stack) -> Enqueue:
    """The baseline: every event on one Celery queue with one priority, first come first served."""

    def enqueue(event: Event) -> None:
        item = ticket(key=event.key, kind=str(event.kind), priority=str(event.priority))
        stack.app.send_task(HANDLE_EVENT, args=[item], queue=str(Queue.DEFAULT), priority=3)

    return enqueue


def make_event(
    text: str,
    *,
    tenant: str = "bench",
    user: str = "u",
    priority: PriorityClass = INTERACTIVE,
    thread: str | None = None,
) -> Event:
    """An event in a fresh thread (so every prompt is the same size), or in `thread` (a conversation)."""
    return Event(
        platform=Platform.TERMINAL,
        tenant=tenant,
        channel="bench",
        thread=thread or uuid.uuid4().hex[:12],
        user=user,
        message_id=uuid.uuid4().hex,
        text=text,
        priority=priority,
    )


def send(stack: Stack, event: Event, *, enqueue: Enqueue | None = None) -> Timing:
    timing = Timing(key=event.key, sent=time.monotonic(), sent_wall=time.time())
    result = submit(event, sessions=stack.sessions, enqueue=enqueue or stack.enqueue)
    timing.queued = time.monotonic()
    if not result.accepted:
        timing.error = result.refused or "not accepted"
    return timing


def follow_answer(stack: Stack, timing: Timing, *, timeout: float = 300.0) -> Timing:
    try:
        for item in follow(stack.bus, timing.key, idle_timeout=timeout):
            now = time.monotonic()
            if item.get("type") == "delta":
                timing.first = timing.first or now
                timing.last_delta = now
            elif item.get("type") == "done":
                timing.done = now
            elif item.get("type") == "error":
                timing.error = str(item.get("text"))
    except TimeoutError as exc:
        timing.error = str(exc)
    return timing


def ask(stack: Stack, event: Event, *, enqueue: Enqueue | None = None) -> Timing:
    timing = send(stack, event, enqueue=enqueue)
    return timing if timing.error else follow_answer(stack, timing)


def clear_tables(stack: Stack) -> None:
    with stack.sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


def paced(count: int, every: float, action: Callable[[int], None]) -> None:
    """Call `action(i)` at fixed times (open loop): a slow call does not push the next one back."""
    start = time.monotonic()
    for index in range(count):
        delay = start + index * every - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        action(index)
