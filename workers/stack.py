"""The composition root: database, broker, reply bus, engine and worker, chosen from Settings.

With no configuration it picks the embedded defaults (SQLite, a Redis it finds or Celery's in-process
broker, the embedded CPU model) and says which it picked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType

import redis
from celery import Celery
from sqlalchemy import Engine as SQLEngine
from sqlalchemy.orm import Session, sessionmaker

from db import migrate
from db.session import make_engine, make_sessionmaker
from engine.base import Engine
from engine.embeddings import Embedder
from workers import runtime as runtimes
from workers.app import create_app
from workers.inprocess import InProcessWorker
from workers.intake import Enqueue
from workers.leases import LeaseKeeper, Leases, MemoryLeases, RedisLeases
from workers.queues import Queue
from workers.replybus import MemoryReplyBus, RedisReplyBus, ReplyBus
from workers.runtime import Runtime
from workers.scheduler.reconcile import Reconciler
from workers.scheduler.settings import SchedulerSettings, embedded_slots, load_scheduler_settings
from workers.scheduler.sweeper import Sweeper
from workers.scheduler.wiring import build_scheduler, start_sweeper
from workers.settings import Settings, SettingsError
from workers.sinks import OutletSource, SinkContext, SinkRegistry
from workers.skills import SkillBook

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

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        scheduling: SchedulerSettings | None = None,
        surfaces: Sequence[OutletSource] = (),
        skills: SkillBook | None = None,
    ) -> None:
        self.settings = settings
        # The surfaces this process serves or answers for; their outlets are this worker's reply sinks.
        self.surfaces: list[OutletSource] = list(surfaces)
        self.skills = skills or SkillBook()
        self.scheduling = embedded_slots(settings, scheduling or load_scheduler_settings(), given=engine)
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
        self.sinks = SinkRegistry(bus=self.bus)
        self.leases: Leases = (
            MemoryLeases()
            if self.broker.in_process
            else RedisLeases(redis.Redis.from_url(self.broker.url), prefix=settings.redis_key_prefix)
        )
        self.engine: Engine | None = None
        self.engine_label = ""
        self.runtime: Runtime | None = None
        self.worker: InProcessWorker | None = None
        self.interactive_worker: InProcessWorker | None = None
        self.sweeper: Sweeper | None = None
        self.reconciler: Reconciler | None = None
        self.app: Celery = create_app(settings, broker_url=self.broker.url)
        # Events go through the scheduler (limits, fairness, admission) before they reach Celery.
        self.scheduler = build_scheduler(
            self.scheduling,
            broker_url=self.broker.url,
            app=self.app,
            sessions=self.sessions,
            key_prefix=settings.redis_key_prefix,
        )
        self.enqueue: Enqueue = self.scheduler

    def __enter__(self) -> Stack:
        self._exit.callback(self.db.dispose)
        self._exit.callback(self.app.close)
        migrate.upgrade(self.database_url)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        runtimes.attach(self.app, None)
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

    @cached_property
    def embedder(self) -> Embedder | None:
        """The embeddings client (EMBEDDING_URL), shared by the worker and the admin API; None: full text only."""
        from workers.engines import open_embedder

        embedder = open_embedder(self.settings)
        if embedder is not None:
            self._exit.callback(embedder.close)
        return embedder

    def add_surface(self, surface: OutletSource) -> None:
        """Answer for `surface` too: its outlets join this worker's reply sinks (now, or when it starts)."""
        if self.runtime is None:
            self.surfaces.append(surface)
        else:
            self.sinks.extend(surface.outlets(self._sink_context()))

    def _sink_context(self) -> SinkContext:
        return SinkContext(sessions=self.sessions, bus=self.bus, sinks=self.sinks)

    def start_runtime(self) -> Runtime:
        if self.runtime is None:
            for surface in self.surfaces:
                self.sinks.extend(surface.outlets(self._sink_context()))
            self._exit.callback(self.sinks.close)
            keeper = LeaseKeeper(self.leases, ttl=self.settings.event_lease_seconds)
            self._exit.callback(keeper.stop)
            from workers.tools.toolbox import Toolset  # the MCP SDK loads only where answers are made

            tools = Toolset.from_file(self.settings.mcp_config, timeout=self.settings.tool_timeout)
            self._exit.callback(tools.close)
            self.runtime = Runtime(
                settings=self.settings,
                sessions=self.sessions,
                engine=self.start_engine(),
                bus=self.bus,
                leases=self.leases,
                keeper=keeper,
                sinks=self.sinks,
                skills=self.skills,
                on_finished=self.scheduler.finished,
                tools=tools if self.settings.tools_enabled else None,
                embedder=self.embedder,
            )
            runtimes.attach(self.app, self.runtime)
            self.reconciler = reconciler = Reconciler(
                scheduler=self.scheduler,
                sessions=self.sessions,
                leases=self.leases,
                engine=self.runtime.engine,
                settings=self.settings,
                same_process=self.broker.in_process,
            )
            self.sweeper = start_sweeper(
                self.scheduler,
                engine=self.runtime.engine,
                sessions=self.sessions,
                # An admitted event normally starts within a second. One still pending a lease period
                # on was most likely prefetched by a worker that died (the broker gives it back only
                # after its visibility timeout): send it again; a second delivery is a no-op.
                stuck_after=self.settings.event_lease_seconds,
                reconciler=reconciler,
                reconcile_every=self.settings.reconcile_interval,
            )
            self._exit.callback(self.sweeper.stop)
        return self.runtime

    def start_worker(self) -> InProcessWorker:
        if self.worker is None:
            self.start_runtime()
            self.worker = InProcessWorker(self.app, concurrency=self.settings.worker_concurrency).start()
            self._exit.callback(self.worker.stop)
            self.serving(general=self.settings.worker_concurrency)
            self.start_interactive_worker()
        return self.worker

    def start_interactive_worker(self) -> InProcessWorker | None:
        """Threads that take only interactive work, so a batch flood never holds every thread."""
        threads = self.scheduling.interactive_workers
        if self.interactive_worker is None and threads:
            self.start_runtime()
            self.interactive_worker = InProcessWorker(
                self.app, concurrency=threads, name="interactive", queues=(Queue.INTERACTIVE,)
            ).start()
            self._exit.callback(self.interactive_worker.stop)
            self.serving(interactive=threads)
        return self.interactive_worker

    def serving(self, *, general: int | None = None, interactive: int | None = None) -> None:
        """Tell the scheduler how many worker threads this process runs (admission never exceeds them)."""
        if self.sweeper is not None:
            self.sweeper.serve(general=general, interactive=interactive)

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
        if self.settings.embedding_url:
            lines.append(f"knowledge: hybrid, embeddings at {_safe(self.settings.embedding_url)}")
        if self.worker is not None:
            lines.append(f"worker:   in-process, {self.settings.worker_concurrency} threads")
        if self.interactive_worker is not None:
            threads = self.scheduling.interactive_workers
            lines.append(f"worker:   in-process, {threads} more threads for interactive work only")
        slots = self.scheduling.engine_slots
        lines.append(f"slots:    {slots or 'from the engine /metrics, else 1'} engine requests at once")
        return lines
