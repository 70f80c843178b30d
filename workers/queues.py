"""The queues and priorities that make Celery the scheduler.

On Redis, Celery priority 0 runs first and messages are bucketed by `priority_steps`; the worker
also reads its queues in the order listed (`queue_order_strategy='priority'`). Both say the same
thing here, so the order holds on Redis and on the in-process broker, which honours only queue order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workers.events import PriorityClass


class Queue(StrEnum):
    INTERACTIVE = "llmos.interactive"
    """People waiting for an answer right now: DMs, mentions, terminal and web chat."""

    DEFAULT = "llmos.default"
    """Commands and skills started by a person: slash commands, shortcuts, summaries."""

    BATCH = "llmos.batch"
    """Work nobody is watching: webhook jobs, exports, digests."""


@dataclass(frozen=True, slots=True)
class Route:
    queue: Queue
    celery_priority: int
    engine_priority: int


ROUTES: dict[PriorityClass, Route] = {
    PriorityClass.INTERACTIVE: Route(Queue.INTERACTIVE, celery_priority=0, engine_priority=0),
    PriorityClass.COMMANDS: Route(Queue.DEFAULT, celery_priority=3, engine_priority=1),
    PriorityClass.BATCH: Route(Queue.BATCH, celery_priority=6, engine_priority=2),
}

# A task sent without a priority lands with the commands, never ahead of interactive work.
DEFAULT_PRIORITY = ROUTES[PriorityClass.COMMANDS].celery_priority
QUEUE_ORDER: tuple[Queue, ...] = (Queue.INTERACTIVE, Queue.DEFAULT, Queue.BATCH)


def route_for(priority: PriorityClass) -> Route:
    return ROUTES[priority]
