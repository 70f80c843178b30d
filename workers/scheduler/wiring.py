"""How a stack builds its scheduler: the store that fits its broker, and the worker-side pieces."""

from __future__ import annotations

import redis
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from engine.base import Engine
from workers.scheduler.dispatch import Scheduler
from workers.scheduler.memory_store import MemoryStore
from workers.scheduler.reconcile import Reconciler
from workers.scheduler.redis_store import RedisStore
from workers.scheduler.settings import SchedulerSettings
from workers.scheduler.store import Store
from workers.scheduler.sweeper import Sweeper


def build_scheduler(
    scheduling: SchedulerSettings,
    *,
    broker_url: str,
    app: Celery,
    sessions: sessionmaker[Session],
    key_prefix: str = "",
) -> Scheduler:
    """Redis brokers share the scheduler's state through Redis; the in-process broker keeps it in memory.

    `key_prefix` (REDIS_KEY_PREFIX) keeps deployments that share one Redis database apart, as for the broker.
    """
    store: Store = (
        MemoryStore()
        if broker_url.startswith("memory")
        else RedisStore(redis.Redis.from_url(broker_url), prefix=f"{key_prefix}llmos:sched:")
    )
    return Scheduler(store=store, app=app, sessions=sessions, settings=scheduling)


def metrics_url(engine: Engine) -> str | None:
    """vLLM serves Prometheus metrics at the root of its URL; other engines simply answer 404 there."""
    url = getattr(engine, "url", None)
    return f"{url}/metrics" if isinstance(url, str) else None


def start_sweeper(
    scheduler: Scheduler,
    *,
    engine: Engine,
    sessions: sessionmaker[Session],
    stuck_after: float,
    reconciler: Reconciler | None = None,
    reconcile_every: float = 2.0,
) -> Sweeper:
    return Sweeper(
        scheduler=scheduler,
        sessions=sessions,
        metrics_url=metrics_url(engine),
        stuck_after=stuck_after,
        reconciler=reconciler,
        reconcile_every=reconcile_every,
    ).start()
