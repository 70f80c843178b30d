"""The composition root: database, broker, reply bus, engine and worker, chosen from Settings.

With no configuration it picks the embedded defaults (SQLite, a Redis it finds or Celery's in-process
broker, the embedded CPU model) and says which it picked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from types import TracebackType

import redis
from celery import Celery
from sqlalchemy import Engine as SQLEngine
from sqlalchemy.orm import Session, sessionmaker

from db import migrate
from db.session import make_engine, make_sessionmaker
from engine.base import Engine
from workers.app import create_app
from workers.inprocess import InProcessWorker
from workers.intake import Enqueue, celery_enqueue
from workers.replybus import MemoryReplyBus, RedisReplyBus, ReplyBus
from workers.runtime import Runtime, install
from workers.settings import Settings, SettingsError

log = logging.getLogger(__name__)

LOCAL_REDIS = "redis://127.0.0.1:6379/0"
MEMORY_BROKER = "memory://localhost/"


@dataclass(frozen=True, slots=True)
class Broker:
    url: str
    label: str

    @property
    def in_process(self) -> bool:
        return self.url.startswith("memory")


def _redis_answers(url: str, timeout: float) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def choose_broker(settings: Settings) -> Broker:
    if settings.redis_url:
        if not _redis_answers(settings.redis_url, timeout=3.0):
            raise SettingsError(f"REDIS_URL: no Redis answers at {_safe(settings.redis_url)}")
        return Broker(settings.redis_url, f"Redis at {_safe(settings.redis_url)}")
    if settings.redis_autodetect and _redis_answers(LOCAL_REDIS, timeout=0.3):
        return Broker(LOCAL_REDIS, f"Redis found at {LOCAL_REDIS}")
    return Broker(MEMORY_BROKER, "in-process broker (no Redis found; set REDIS_URL to share one)")


def _safe(url: str) -> str:
    """A URL fit for a log line: no password."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


class Stack:
    """Everything one LLMOS process needs; `with Stack(settings) as stack:` starts and stops it."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self.database_url = settings.resolved_database_url
        self.broker = choose_broker(settings)
        self._given_engine = engine
        self._exit = ExitStack()
        self.db: SQLEngine = make_engine(self.database_url)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.db)
        self.bus: ReplyBus = (
            MemoryReplyBus()
            if self.broker.in_process
            else RedisReplyBus(redis.Redis.from_url(self.broker.url), prefix=settings.redis_key_prefix)
        )
        self.engine: Engine | None = None
        self.engine_label = ""
        self.runtime: Runtime | None = None
        self.worker: InProcessWorker | None = None
        self.app: Celery = create_app(settings, broker_url=self.broker.url)
        self.enqueue: Enqueue = celery_enqueue(self.app)

    def __enter__(self) -> Stack:
        self._exit.callback(self.db.dispose)
        self._exit.callback(self.app.close)
        migrate.upgrade(self.database_url)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        install(None)
        self._exit.close()

    # -- the worker side, started only where answers are produced ---------------------------

    def start_engine(self) -> Engine:
        if self.engine is None:
            if self._given_engine is not None:
                self.engine, self.engine_label = self._given_engine, "given engine"
            else:
                # Imported here: a client that only enqueues (`llmos chat` beside a running LLMOS)
                # never pays for the engine SDKs.
                from workers.engines import open_engine

                self.engine, self.engine_label = open_engine(self.settings, self._exit)
            self._exit.callback(self.engine.close)
        return self.engine

    def start_runtime(self) -> Runtime:
        if self.runtime is None:
            self.runtime = Runtime(
                settings=self.settings, sessions=self.sessions, engine=self.start_engine(), bus=self.bus
            )
            install(self.runtime)
        return self.runtime

    def start_worker(self) -> InProcessWorker:
        if self.worker is None:
            self.start_runtime()
            self.worker = InProcessWorker(self.app, concurrency=self.settings.worker_concurrency).start()
            self._exit.callback(self.worker.stop)
        return self.worker

    def workers_elsewhere(self, timeout: float = 1.0) -> bool:
        """True when a shared broker has live workers (so a client need not start its own)."""
        if self.broker.in_process:
            return False
        try:
            return bool(self.app.control.ping(timeout=timeout, limit=1))
        except Exception:  # a broker hiccup just means: start our own worker
            log.debug("worker ping failed", exc_info=True)
            return False

    def on_close(self, callback: Callable[[], object]) -> None:
        """Run `callback` when the stack closes (before the worker and engine stop)."""
        self._exit.callback(callback)

    def describe(self) -> list[str]:
        database = "SQLite" if self.database_url.startswith("sqlite") else "PostgreSQL"
        where = self.database_url.split("///", 1)[-1] if database == "SQLite" else _safe(self.database_url)
        lines = [f"database: {database} ({where})", f"broker:   {self.broker.label}"]
        if self.engine_label:
            lines.append(f"engine:   {self.engine_label}")
        if self.worker is not None:
            lines.append(f"worker:   in-process, {self.settings.worker_concurrency} threads")
        return lines
