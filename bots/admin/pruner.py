"""The admin service's retention loop: `db.retention.prune` at start and then every hour."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from db import retention

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600.0


class Pruner:
    def __init__(self, *, sessions: sessionmaker[Session], days: int, every: float = EVERY_SECONDS) -> None:
        self._sessions = sessions
        self._days = days
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="admin-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> retention.Pruned:
        with self._sessions.begin() as session:
            pruned = retention.prune(session, days=self._days)
        if pruned.total():
            log.info("retention (%d days): %s", self._days, pruned)
        return pruned

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("retention run failed; trying again in %.0f s", self._every)
            self._stop.wait(self._every)
