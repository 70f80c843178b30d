"""Both scheduler stores, each test on a private key prefix in the test Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from engine.simulator import SimulatedEngine
from tests.conftest import clear_tables, make_scheduling, make_settings
from workers.events import Event, Platform, PriorityClass
from workers.replybus import follow
from workers.scheduler.memory_store import MemoryStore
from workers.scheduler.redis_store import RedisStore
from workers.scheduler.store import Store, Waiting
from workers.stack import Stack


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    found = RedisStore(client, prefix=f"test:sched:{uuid.uuid4().hex[:8]}:")
    try:
        yield found
    finally:
        found.clear()
        client.close()


def item(
    key: str, *, tenant: str = "acme", priority: PriorityClass = PriorityClass.BATCH, weight: float = 1.0
) -> Waiting:
    return Waiting(key=key, priority=priority, tenant=tenant, weight=weight, payload={"key": key})


@contextmanager
def private_stack(
    tmp: Path, *, database_url: str, redis_url: str, engine: SimulatedEngine, concurrency: int = 2, **scheduling: Any
) -> Iterator[Stack]:
    """A whole stack on PostgreSQL and Redis whose Celery keys and scheduler state no other stack in this
    test session can see (kombu's `global_keyprefix`, a store prefix of its own)."""
    settings = make_settings(
        tmp, database_url=database_url, redis_url=redis_url, engine_url=engine.url, worker_concurrency=concurrency
    )
    stack = Stack(settings, scheduling=make_scheduling(**scheduling))
    space = f"t{uuid.uuid4().hex[:8]}:"
    options = dict(stack.app.conf.broker_transport_options)
    stack.app.conf.broker_transport_options = {**options, "global_keyprefix": space}
    client = redis.Redis.from_url(redis_url)
    stack.scheduler.store = RedisStore(client, prefix=space + "sched:")
    with stack:
        clear_tables(stack.sessions)  # the database is shared with the session's other stacks
        stack.start_worker()
        try:
            yield stack
        finally:
            stack.scheduler.store.clear()
    clear_tables(stack.sessions)
    for key in client.scan_iter(match=space + "*"):
        client.delete(key)
    client.close()


@pytest.fixture
def pg_redis(pg_database: str, redis_url: str, tmp_path: Path) -> dict[str, Any]:
    return {"tmp": tmp_path, "database_url": pg_database, "redis_url": redis_url}


def event(
    text: str,
    *,
    tenant: str = "acme",
    user: str = "u1",
    priority: PriorityClass = PriorityClass.INTERACTIVE,
    thread: str | None = None,
) -> Event:
    return Event(
        platform=Platform.TERMINAL,
        tenant=tenant,
        channel="general",
        thread=thread or uuid.uuid4().hex[:8],
        user=user,
        message_id=uuid.uuid4().hex,
        text=text,
        priority=priority,
    )


def items_of(stack: Stack, key: str, *, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Everything the worker published for one event, up to its `done` or `error`."""
    return list(follow(stack.bus, key, idle_timeout=timeout))
