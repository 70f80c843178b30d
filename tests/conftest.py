"""Shared fixtures: real PostgreSQL and Redis, SQLite, the engine simulator and the in-process stack."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
import redis
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from db.models import Base
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.fixtures.services import PrivatePostgres, PrivateRedis, ServiceUnavailable, listening
from workers.scheduler.settings import SchedulerSettings, load_scheduler_settings
from workers.settings import Settings, load_settings
from workers.stack import Stack

# Every log record of the session is scanned for the secrets and tokens the tests configure.
pytest_plugins = ["tests.fixtures.secret_scan"]

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DEFAULT = "redis://127.0.0.1:6379/15"


def _pg_url(admin_url: str, database: str) -> str:
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


def _unavailable(reason: str) -> NoReturn:
    """Without a backend the tests that need it are skipped, except in CI, where that is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """LLMOS_TEST_PG, else the PostgreSQL on 5432, else a private throwaway cluster on a free port."""
    given = os.environ.get("LLMOS_TEST_PG")
    if given or listening(5432):
        yield given or PG_DEFAULT
        return
    # Not under pytest's 0700 temporary folders: the cluster runs as the postgres user when we are root.
    root = Path(tempfile.mkdtemp(prefix="llmos-test-pg-"))
    try:
        server = PrivatePostgres(root)
        server.start()
    except ServiceUnavailable as exc:
        shutil.rmtree(root, ignore_errors=True)
        _unavailable(f"no PostgreSQL on 127.0.0.1:5432 and none could be started: {exc}")
    try:
        yield server.admin_url
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_database(pg_admin_url: str) -> Iterator[str]:
    """A PostgreSQL database of our own for this test session, dropped afterwards."""
    name = f"llmos_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'llmos.db'}"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """LLMOS_TEST_REDIS, else the Redis on 6379, else a private redis-server on a free port."""
    given = os.environ.get("LLMOS_TEST_REDIS")
    if given or listening(6379):
        yield given or REDIS_DEFAULT
        return
    try:
        server = PrivateRedis(tmp_path_factory.mktemp("redis"))
        server.start()
    except ServiceUnavailable as exc:
        _unavailable(f"no Redis on 127.0.0.1:6379 and none could be started: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: str) -> str:
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatedEngine]:
    with SimulatedEngine() as engine:
        yield engine


@pytest.fixture(autouse=True)
def _fresh_simulator(request: pytest.FixtureRequest) -> None:
    if "simulator" in request.fixturenames:
        sim: SimulatedEngine = request.getfixturevalue("simulator")
        sim.config = SimulatorConfig()
        sim.requests.clear()
        sim.embedded.clear()


def make_settings(tmp: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "_env_file": None,
        "llmos_home": tmp,
        "redis_autodetect": False,
        "engine_retries": 1,
        "engine_retry_backoff": 0.01,
        "engine_token_timeout": 5.0,
        "worker_concurrency": 2,
    }
    values.update(overrides)
    return load_settings(**values)


def make_scheduling(**overrides: object) -> SchedulerSettings:
    """Scheduler settings for tests: none from `.env`, and out of the way unless a test asks (no request
    rate limit, as many engine slots as the simulator has), so other tests see plain order by class."""
    values: dict[str, object] = {"_env_file": None, "user_requests_per_minute": None, "engine_slots": 64}
    values.update(overrides)
    return load_scheduler_settings(**values)


def clear_tables(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


@dataclass
class Backend:
    name: str
    database_url: str
    redis_url: str | None


@pytest.fixture(scope="session", params=["sqlite+memory", "postgresql+redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite+memory":
        return Backend(request.param, request.getfixturevalue("sqlite_database"), None)
    return Backend(request.param, request.getfixturevalue("pg_database"), request.getfixturevalue("redis_url"))


@pytest.fixture(scope="session")
def stack(backend: Backend, simulator: SimulatedEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole task path in this process: database, broker, worker thread, engine simulator."""
    settings = make_settings(
        tmp_path_factory.mktemp(backend.name),
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        engine_url=simulator.url,
    )
    with Stack(settings, scheduling=make_scheduling()) as running:
        running.start_worker()
        yield running


def clear_notices(stack: Stack) -> None:
    """Forget which public refusals were said lately (kept in Redis for a minute), as a new deployment would."""
    if stack.broker.in_process:
        return
    client = redis.Redis.from_url(stack.broker.url)
    try:
        for key in client.scan_iter(f"{stack.settings.redis_key_prefix}llmos:notice:*"):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def clean_stack(stack: Stack) -> Stack:
    clear_tables(stack.sessions)
    clear_notices(stack)
    return stack
