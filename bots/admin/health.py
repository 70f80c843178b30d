"""Is LLMOS able to answer? The engine watch (and its notices) and the readiness probe.

The engine is asked for its health every few seconds; when the answer changes, an
`engine.unavailable` or `engine.recovered` notice is written. The last engine notice in the database
is the state it is compared with, so a restarted (or a second) admin service does not repeat it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from db import notices
from db.models import Notice
from engine.base import Engine, Health
from workers.queues import QUEUE_ORDER

# The broker's priority buckets (workers/app.py `priority_steps`): one Redis list per step.
PRIORITY_STEPS = range(10)

log = logging.getLogger(__name__)

_ENGINE_KINDS = (notices.ENGINE_UNAVAILABLE, notices.ENGINE_RECOVERED)


@dataclass(frozen=True, slots=True)
class Checked:
    health: Health
    at: float


class EngineWatch:
    def __init__(self, *, engine: Engine | None, sessions: sessionmaker[Session], interval: float) -> None:
        self._engine = engine
        self._sessions = sessions
        self._interval = interval
        self._last: Checked | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="admin-engine-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:
                log.exception("engine health check failed")
            self._stop.wait(self._interval)

    def check(self) -> Health:
        """Ask the engine now, and write a notice if it went down or came back."""
        if self._engine is None:
            health = Health(ok=False, detail="no engine in this process: set ENGINE_URL so the admin service can check")
        else:
            health = self._engine.health()
        with self._lock:
            self._last = Checked(health, time.time())
        if self._engine is not None:
            self._transition(health)
        return health

    def latest(self, *, max_age: float | None = None) -> Health:
        """The last answer, asking again when it is older than `max_age` (default: two intervals)."""
        with self._lock:
            last = self._last
        limit = self._interval * 2 if max_age is None else max_age
        if last is None or time.time() - last.at > limit:
            return self.check()
        return last.health

    def _transition(self, health: Health) -> None:
        with self._sessions.begin() as session:
            last = session.scalars(
                select(Notice.kind).where(Notice.kind.in_(_ENGINE_KINDS)).order_by(Notice.id.desc()).limit(1)
            ).first()
            was_down = last == notices.ENGINE_UNAVAILABLE
            if not health.ok and not was_down:
                log.warning("engine unavailable: %s", health.detail)
                # The detail (an internal address) stays in the log: tenants' webhooks hear engine notices too.
                notices.emit(session, kind=notices.ENGINE_UNAVAILABLE, tenant_id=None, data={"state": "unavailable"})
            elif health.ok and was_down:
                log.info("engine recovered")
                notices.emit(
                    session,
                    kind=notices.ENGINE_RECOVERED,
                    tenant_id=None,
                    data={"state": "available", "models": list(health.models)},
                )


class BrokerProbe:
    """The Celery broker as the admin service sees it: does it answer, and how long are the queues."""

    def __init__(self, url: str | None) -> None:
        # None: Celery's in-process broker, which lives and dies with this process.
        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) if url else None

    def ping(self) -> bool:
        if self._client is None:
            return True
        try:
            return bool(self._client.ping())
        except (redis.RedisError, OSError):
            return False

    def queue_lengths(self) -> dict[str, int] | None:
        """Messages waiting per queue (all priority steps), or None when the broker cannot be read."""
        if self._client is None:
            return None
        try:
            pipe = self._client.pipeline()
            for queue in QUEUE_ORDER:
                for step in PRIORITY_STEPS:
                    pipe.llen(f"{queue}:{step}" if step else str(queue))
            sizes = pipe.execute()
        except (redis.RedisError, OSError):
            return None
        per = len(PRIORITY_STEPS)
        return {str(q): int(sum(sizes[i * per : (i + 1) * per])) for i, q in enumerate(QUEUE_ORDER)}

    def forget_streams(self, keys: Iterable[str]) -> None:
        """Drop the reply streams of these events now rather than at their expiry (data deletion)."""
        names = [f"llmos:reply:{key}" for key in keys]  # workers.replybus.RedisReplyBus keys
        if self._client is not None and names:
            try:
                self._client.delete(*names)
            except (redis.RedisError, OSError):
                log.warning("could not delete %d reply streams; they expire within the hour", len(names))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def database_answers(sessions: sessionmaker[Session]) -> tuple[bool, str]:
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def readiness(
    *, sessions: sessionmaker[Session], broker: BrokerProbe, watch: EngineWatch
) -> dict[str, dict[str, object]]:
    db_ok, db_detail = database_answers(sessions)
    broker_ok = broker.ping()
    engine = watch.latest()
    return {
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": "ok" if broker_ok else "the broker does not answer"},
        "engine": {"ok": engine.ok, "detail": engine.detail},
    }
