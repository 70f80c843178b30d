"""Engines and sessions: one engine and one sessionmaker per process, built from the database URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the surfaces read while a worker writes; foreign keys make deletes cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a caller that already told a platform "received" waits out a restarting database.
DATABASE_PATIENCE = 10.0


def patiently(call: Callable[[], T], *, what: str, patience: float = DATABASE_PATIENCE) -> T:
    """`call()`, tried again while the database refuses connections (a restart), for up to `patience` s.

    For work that must not be lost once a platform was told it arrived (Slack acknowledges an event
    before its listener runs); `call` must be safe to repeat, as intake is by its idempotency key.
    """
    deadline = time.monotonic() + patience
    delay = 0.1
    while True:
        try:
            return call()
        except OperationalError:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s: the database is not answering; trying again in %.1fs", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def insert_new(session: Session, model: type[DeclarativeBase], values: dict[str, Any]) -> bool:
    """Insert one row unless it would repeat a unique key; True if inserted. One statement, where a
    savepoint around an ORM insert costs three round trips on the hot path of every event."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    keys = inspect(model).primary_key
    # RETURNING tells whether a row went in on both databases (the ORM reports no rowcount here).
    inserted = session.execute(insert(model).values(**values).on_conflict_do_nothing().returning(*keys))
    return inserted.first() is not None
