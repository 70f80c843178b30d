"""The reconciler: the ledger says what must happen; this makes the queues and leases agree with it.

One process at a time runs it (the sweeper's leader), at start and every `RECONCILE_INTERVAL`:

- an event pending in the ledger that no queue holds (its intake process died between commit and
  enqueue, or Redis restarted empty) is queued again;
- an event running in the ledger whose lease no live worker holds (its worker died: its process's
  alive mark lapsed, whatever the broker's visibility timeout) is handed to a new attempt, which
  resumes the same answer message; an event out of attempts is failed there, and its person told, once;
- events the engine failed are sent again, oldest first, once it answers (those received within
  `ENGINE_RESEND_WITHIN`); older ones are closed and their person told to ask again.

Everything it does is safe to repeat: a second delivery of a live event waits for its lease, and a
finished one is not answered again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from db import events
from db.events import Status
from engine.base import Engine
from workers.leases import Leases
from workers.scheduler.dispatch import COMMAND_KINDS, Scheduler
from workers.settings import Settings
from workers.stopping import STOPPED_WAITING
from workers.tasks import ticket

log = logging.getLogger(__name__)

# A pending event younger than this may still be on its way from intake to a queue.
PENDING_GRACE = 5.0
# Commands skip the scheduler and wait in Celery's queue, which cannot be asked what it holds.
COMMAND_GRACE = 30.0
DROPPED = "Sorry, the language engine was down for too long, so this question was not answered. Please ask it again."


@dataclass
class Report:
    """What one pass did (for logs and tests)."""

    queued: list[str] = field(default_factory=list)
    taken_over: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.queued or self.taken_over or self.resent or self.dropped)


class Reconciler:
    def __init__(
        self,
        *,
        scheduler: Scheduler,
        sessions: sessionmaker[Session],
        leases: Leases,
        engine: Engine,
        settings: Settings,
        same_process: bool,
    ) -> None:
        self._scheduler = scheduler
        self._sessions = sessions
        self._leases = leases
        self._engine = engine
        self._settings = settings
        # One process holds every lease (the in-process broker): a lease it lacks belongs to nobody,
        # and nothing accepted before this process started can be in its queues.
        self._same_process = same_process
        self._born = time.time()
        # Running events whose lease was missing, with when that was first seen (after a takeover: when
        # the next one may be, should the new attempt not show up).
        self._missing: dict[str, float] = {}
        # Events handed to a new attempt, with their attempt count then.
        self._handed: dict[str, int] = {}
        # Whether an event on its last attempt is running (or was just handed over) in this pass.
        self._isolated = False

    def run(self, *, now: float | None = None) -> Report:
        now = time.time() if now is None else now
        report = Report()
        with self._sessions() as session:
            open_events = events.open_events(session)
            failures = events.engine_failures(session)
            session.rollback()
        self._open(open_events, now=now, report=report)
        if failures:
            self._engine_failures(failures, now=now, report=report)
        if report:
            log.warning(
                "reconciled: queued %s, taken over %s, re-sent %s, dropped %s",
                report.queued,
                report.taken_over,
                report.resent,
                report.dropped,
            )
        return report

    def _open(self, found: list[events.Open], *, now: float, report: Report) -> None:
        held = self._scheduler.store.holds([e.key for e in found])
        running = [e for e in found if e.status is Status.RUNNING]
        live = self._leases.live([e.key for e in running])
        keys = {e.key for e in running}
        self._missing = {k: at for k, at in self._missing.items() if k in keys}
        self._handed = {k: attempts for k, attempts in self._handed.items() if k in keys}
        grace = self._lease_grace(now)
        last = self._settings.event_max_attempts
        # One event at a time on its last attempt: an event that died with its worker twice may have
        # died only beside a poison one, and deserves an attempt of its own.
        self._isolated = any(e.attempts >= last and e.key in live for e in running)
        for event in found:
            if event.status is Status.PENDING:
                wait = COMMAND_GRACE if event.kind in COMMAND_KINDS else PENDING_GRACE
                if self._same_process and event.received_at < self._born:
                    wait = 0.0
                if event.key not in held and now - event.received_at > wait:
                    self._requeue(event, held=False)
                    report.queued.append(event.key)
            elif event.key in live:
                self._missing.pop(event.key, None)
            else:
                self._take_over_if_due(event, held=event.key in held, grace=grace, now=now, report=report)

    def _take_over_if_due(self, event: events.Open, *, held: bool, grace: float, now: float, report: Report) -> None:
        """Hand a running event whose worker is gone to a new attempt (or, out of attempts, to one
        that fails it), unless its lease may still come back, or the attempt it was last handed to
        has not had the time to show up."""
        if self._handed.get(event.key, event.attempts) < event.attempts:
            # The attempt it was handed to claimed it since, and died too: no hold-off for that one.
            del self._handed[event.key]
            self._missing[event.key] = now
        if now - self._missing.setdefault(event.key, now) < grace:
            return
        if event.attempts == self._settings.event_max_attempts - 1:
            if self._isolated:
                return  # its turn comes when the one on its last attempt is done
            self._isolated = True
        self._requeue(event, held=held)
        self._missing[event.key] = now + self._settings.event_lease_seconds
        self._handed[event.key] = event.attempts
        report.taken_over.append(event.key)

    def _lease_grace(self, now: float) -> float:
        """How long a missing lease is waited for: none where a lease can only be missing because it
        lapsed (its worker stopped renewing a whole lease period ago); a lease period after the store
        lost its leases (Redis restarted empty), while live workers put theirs back."""
        if self._same_process:
            return 0.0
        ttl = self._settings.event_lease_seconds
        return 0.0 if now - self._leases.epoch() >= ttl else ttl

    def _stopped_while_waiting(self, failures: list[tuple[str, float]], *, report: Report) -> list[tuple[str, float]]:
        """Drop the engine failures their person stopped (whatever the engine's health); the rest go on."""
        stopped = self._leases.stopped_among(key for key, _ in failures)
        left = []
        for key, received_at in failures:
            if key not in stopped:
                left.append((key, received_at))
                continue
            with self._sessions.begin() as session:
                dropped = events.drop(session, key=key)
            if dropped:
                report.dropped.append(key)
                self._scheduler.tell_failed(key, STOPPED_WAITING)
        return left

    def _requeue(self, event: events.Open, *, held: bool) -> None:
        item = ticket(key=event.key, kind=event.kind, priority=event.priority)
        if held or event.kind in COMMAND_KINDS:
            self._scheduler.resend(item)
        else:
            self._scheduler.queue(item, tenant=event.tenant, weight=self._scheduler.weight_of(event.tenant))

    def _engine_failures(self, failures: list[tuple[str, float]], *, now: float, report: Report) -> None:
        failures = self._stopped_while_waiting(failures, report=report)
        if not failures or not self._engine.health().ok:
            return
        within = self._settings.engine_resend_within
        for key, received_at in failures:
            with self._sessions.begin() as session:
                if now - received_at <= within:
                    reopened = events.reopen(session, key=key)
                    row = events.open_events_for(session, keys=[key]) if reopened else []
                else:
                    reopened, row = False, []
                    if events.drop(session, key=key):
                        report.dropped.append(key)
            for event in row:
                self._requeue(event, held=False)
                report.resent.append(key)
            if key in report.dropped:
                self._scheduler.tell_failed(key, DROPPED)
