"""The scheduler's housekeeping in each worker process: engine slots, and what a dying process left behind.

Every `metrics_interval` it tells the store how many worker threads this process serves with, sets
the admission limit (one process at a time, by a short lease in the store) to what the engine can
batch and the live workers can run, with the interactive-only threads' share reserved for interactive
work, so waiting work stays in the scheduler's fair, ordered lists rather than in Celery's queues,
sends again events that were admitted but never reached Celery (the
process that admitted them died in between), frees slots whose event the database shows finished
(a worker died after answering but before freeing it), re-sends events that hold a slot but were
never picked up, and admits whatever fits. All of it is idempotent: the pipeline's event lease makes
a second delivery of one event harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.events import Status
from db.models import ProcessedEvent
from workers.scheduler.capacity import SlotController, read_load
from workers.scheduler.dispatch import Scheduler
from workers.scheduler.reconcile import Reconciler
from workers.tasks import ticket

log = logging.getLogger(__name__)

FINISHED = (Status.DONE, Status.FAILED)
# How often the leader looks for idle tenants whose counters can go (seconds).
FORGET_EVERY = 300.0


class Sweeper:
    def __init__(
        self,
        *,
        scheduler: Scheduler,
        sessions: sessionmaker[Session],
        metrics_url: str | None,
        stuck_after: float,
        reconciler: Reconciler | None = None,
        reconcile_every: float = 2.0,
    ) -> None:
        self._scheduler = scheduler
        self._store = scheduler.store
        self._settings = scheduler.settings
        self._sessions = sessions
        self._metrics_url = metrics_url
        self._stuck_after = stuck_after
        self._reconciler = reconciler
        self._reconcile_every = reconcile_every
        self._reconciled = 0.0
        self._forgot = 0.0
        self._http = httpx.Client(timeout=httpx.Timeout(2.0))
        self._controller = SlotController(fixed=self._settings.engine_slots, maximum=self._settings.max_engine_slots)
        self._limit = scheduler.default_slots
        # This process's worker threads (for any work, for interactive work only), told by the stack.
        self.general = 0
        self.interactive = 0
        self._me = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def serve(self, *, general: int | None = None, interactive: int | None = None) -> None:
        self.general = self.general if general is None else general
        self.interactive = self.interactive if interactive is None else interactive

    def start(self) -> Sweeper:
        # At start too: whatever a dead process left open is found before new work piles on top.
        self._thread = threading.Thread(target=self._run, name="scheduler-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._http.close()

    def _run(self) -> None:
        try:
            self.sweep(now=time.time())
        except Exception:
            log.exception("scheduler sweep failed at start")
        while not self._stop.wait(self._settings.metrics_interval):
            try:
                self.sweep(now=time.time())
            except Exception:
                log.exception("scheduler sweep failed; trying again in %.1fs", self._settings.metrics_interval)

    def sweep(self, *, now: float) -> None:
        if self.general or self.interactive:
            until = now + 3 * self._settings.metrics_interval
            self._store.heartbeat(self._me, general=self.general, interactive=self.interactive, until=until)
        if self._store.lead(self._me, ttl=self._settings.metrics_interval * 1.5):
            self.adjust_slots(now=now)
            if self._reconciler is not None and now - self._reconciled >= self._reconcile_every:
                self._reconciled = now
                self._reconciler.run(now=now)
            if now - self._forgot >= FORGET_EVERY:
                self._forgot = now
                if gone := self._store.forget_idle(idle_before=now - self._settings.idle_tenant_seconds):
                    log.info("forgot the scheduler state of %d idle tenants", gone)
        for item in self._store.unsent(admitted_before=now - self._settings.resend_after):
            log.warning("event %s was admitted but never sent; sending it again", item.key)
            self._scheduler.send(item)
        self.free_finished(now=now)
        self._scheduler.pump()

    def adjust_slots(self, *, now: float | None = None) -> int:
        """Set and return the admission limit: the engine's, capped by the live worker threads."""
        load = read_load(self._http, self._metrics_url) if self._metrics_url else None
        in_flight = len(self._store.running())
        limit = self._controller.next_limit(self._limit, load, in_flight)
        if limit != self._limit:
            log.info("engine slots %d -> %d (engine load: %s, ours in flight: %d)", self._limit, limit, load, in_flight)
        self._limit = limit
        general, interactive = self._store.threads(now=time.time() if now is None else now)
        reserved = max(self._settings.reserved_slots, interactive)
        if general + interactive:
            limit = min(limit, general + interactive)
        self._store.set_slots(limit, reserved=reserved)
        return limit

    def free_finished(self, *, now: float) -> None:
        """Free slots held past `resend_after` whose events are finished; re-send those never picked up."""
        old = {key: at for key, at in self._store.running().items() if at < now - self._settings.resend_after}
        if not old:
            return
        with self._sessions() as session:
            rows = session.execute(
                select(ProcessedEvent.key, ProcessedEvent.status, ProcessedEvent.kind, ProcessedEvent.priority).where(
                    ProcessedEvent.key.in_(list(old))
                )
            ).all()
            session.rollback()
        known = {row.key: row for row in rows}
        for key, at in old.items():
            row = known.get(key)
            if row is None or row.status in FINISHED:
                log.warning("event %s finished without freeing its engine slot; freeing it", key)
                self._store.release(key, tokens=self._scheduler.tokens_used(key), now=now)
            elif row.status == Status.PENDING and at < now - self._stuck_after:
                log.warning("event %s holds a slot but no worker took it; sending it again", key)
                self._scheduler.resend(ticket(key=key, kind=row.kind, priority=row.priority))
