"""The dispatch stage: the enqueue every surface calls, and the hook a worker calls when a task ends.

`Scheduler.__call__` puts an event into the store's waiting lists and then admits what free engine
slots allow; `finished` frees the slot of a completed event, settles its tokens and admits the next.
So admission happens at the two moments a slot can free or work can arrive, in whichever process
that is, and no dispatcher process has to stay alive for work to flow (the sweeper in each worker
only mends what a dying process left behind). Commands LLMOS answers itself (/help, /prefs) never
reach the engine; they skip the stage and go straight to their Celery queue.
"""

from __future__ import annotations

import logging
import math
import time

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Tenant, TenantLimits, Usage
from workers.commands import COMMANDS
from workers.events import Event, PriorityClass
from workers.intake import Limited
from workers.queues import route_for
from workers.scheduler import estimate
from workers.scheduler.limits import Limits
from workers.scheduler.notify import TELL_FAILED, TELL_QUEUED
from workers.scheduler.settings import SchedulerSettings
from workers.scheduler.store import Store, Waiting
from workers.tasks import Ticket, send, ticket

log = logging.getLogger(__name__)


COMMAND_KINDS = frozenset(str(kind) for kind in COMMANDS)


def _ticket(item: Waiting) -> Ticket:
    return ticket(key=item.key, kind=str(item.payload.get("kind", "ask")), priority=str(item.priority))


def tenant_key(event: Event) -> str:
    # An admin job run for a Slack workspace is that workspace's work, and is counted there.
    return f"{event.tenant_platform}:{event.tenant}"


def queued_note(seconds: float) -> str:
    return f"Queued, about {max(1, math.ceil(seconds))} s before I can start on this."


class Scheduler:
    def __init__(
        self, *, store: Store, app: Celery, sessions: sessionmaker[Session], settings: SchedulerSettings
    ) -> None:
        self.store = store
        self.settings = settings
        self._app = app
        self._sessions = sessions
        self._limits = Limits(settings=settings)
        # Each tenant's weight as last read by the limits check, so admission needs no query.
        self._weights: dict[str, float] = {}

    @property
    def default_slots(self) -> int:
        return self.settings.engine_slots or 1

    # -- intake ------------------------------------------------------------------------------

    def check(self, session: Session, *, event: Event, tenant_id: int, user_id: int) -> Limited | None:
        """The intake gate: the tenant's rate and token limits (see `limits`)."""
        verdict = self._limits.check(session, tenant_id=tenant_id, user_id=user_id, user=event.user)
        self._weights[tenant_key(event)] = verdict.weight
        if verdict.refusal is None:
            return None
        return Limited(message=verdict.refusal.message, retry_after=verdict.refusal.retry_after)

    def __call__(self, event: Event) -> None:
        item = ticket(key=event.key, kind=str(event.kind), priority=str(event.priority))
        if event.kind in COMMANDS:
            send(self._app, item)
            return
        self.queue(item, tenant=tenant_key(event), weight=self._weight(event))

    def queue(self, item: Ticket, *, tenant: str, weight: float) -> None:
        """Put an event (again) among the waiting; a key the store already holds is left as it is."""
        waiting = Waiting(
            key=item["key"], priority=PriorityClass(item["priority"]), tenant=tenant, weight=weight, payload=dict(item)
        )
        now = time.time()
        ahead = self.store.push(waiting, now=now)
        if ahead is None:
            log.info("event %s is already with the scheduler", waiting.key)
            return
        admitted = self.pump()
        if waiting.priority is PriorityClass.INTERACTIVE and waiting.key not in admitted:
            self._tell_wait(waiting, ahead=ahead, now=now)

    # -- admission ---------------------------------------------------------------------------

    def pump(self) -> list[str]:
        """Admit waiting events into Celery while slots are free; an event whose send fails stays
        recorded as unsent and the sweeper sends it again."""
        admitted = self.store.admit(
            now=time.time(),
            reserved=self.settings.reserved_slots,
            default_slots=self.default_slots,
            tokens_default=self.settings.tokens_estimate,
        )
        for item in admitted:
            self.send(item)
        return [item.key for item in admitted]

    def send(self, item: Waiting) -> None:
        try:
            send(self._app, _ticket(item))
        except Exception:
            log.exception("event %s admitted but not handed to Celery; the sweeper will send it again", item.key)
            return
        self.store.sent(item.key)

    def resend(self, item: Ticket) -> None:
        """Hand an event that already holds a slot to Celery again (its first delivery was lost)."""
        send(self._app, item)

    def finished(self, key: str, kind: str, outcome: str, tokens: int) -> None:
        """A worker is done with an event: free its slot, charge its real tokens, admit the next."""
        if kind in COMMAND_KINDS or outcome == "duplicate":
            return
        try:
            self.store.release(key, tokens=tokens, now=time.time())
            self.pump()
        except Exception:
            log.exception("event %s: could not free its engine slot; the sweeper will", key)

    def tokens_used(self, key: str) -> int:
        with self._sessions() as session:
            row = session.execute(
                select(Usage.prompt_tokens, Usage.completion_tokens).where(Usage.event_key == key)
            ).first()
            session.rollback()
        return int(row[0] + row[1]) if row is not None else 0

    # -- waits -------------------------------------------------------------------------------

    def _tell_wait(self, item: Waiting, *, ahead: int, now: float) -> None:
        stats = self.store.stats(now=now)
        wait = estimate.expected_wait(stats, priority=item.priority, ahead=ahead, default_slots=self.default_slots)
        if wait < self.settings.tell_wait_seconds:
            return
        log.info("event %s queued with %d ahead; about %.0f s to wait", item.key, ahead, wait)
        route = route_for(PriorityClass.INTERACTIVE)
        try:
            self._app.send_task(
                TELL_QUEUED,
                args=[item.key, queued_note(wait)],
                queue=str(route.queue),
                priority=route.celery_priority,
            )
        except Exception:  # the event itself is safely queued; only the note is lost
            log.exception("event %s: could not send the queued note", item.key)

    def tell_failed(self, key: str, text: str) -> None:
        """Close a failed event's answer message with `text` (through a worker, where the sinks are)."""
        route = route_for(PriorityClass.INTERACTIVE)
        self._app.send_task(TELL_FAILED, args=[key, text], queue=str(route.queue), priority=route.celery_priority)

    def _weight(self, event: Event) -> float:
        return self.weight_of(tenant_key(event))

    def weight_of(self, tenant: str) -> float:
        """A tenant's fairness weight ("<platform>:<external id>"), read once and then kept."""
        if tenant not in self._weights:
            platform, _, external = tenant.partition(":")
            with self._sessions() as session:
                weight = session.scalar(
                    select(TenantLimits.weight)
                    .join(Tenant, Tenant.id == TenantLimits.tenant_id)
                    .where(Tenant.platform == platform, Tenant.external_id == external)
                )
                session.rollback()
            self._weights[tenant] = float(weight) if weight else 1.0
        return self._weights[tenant]
