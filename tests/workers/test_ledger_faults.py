"""Faults that need servers of their own: PostgreSQL restarted while answers stream.

A private PostgreSQL (tests/fixtures/services.py) is restarted under a real `llmos worker`; every
event is still answered once, and the next one too (no engine slot leaks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import Message, ProcessedEvent
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.conftest import make_settings
from tests.fixtures.services import PrivatePostgres, ServiceUnavailable
from tests.workers.test_redelivery import REPO, bus_items, terminal_event
from workers.intake import submit
from workers.stack import Stack

ANSWER = " ".join(f"w{i}" for i in range(25))


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="llmos-pg-"))
    root.chmod(0o755)
    try:
        server = PrivatePostgres(root / "pg")
        server.start()
    except ServiceUnavailable as exc:
        pytest.skip(f"no private PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.stop()


def _database(server: PrivatePostgres) -> str:
    import psycopg

    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE llmos")
    return f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/llmos"


def _done(client: Stack, keys: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            with client.sessions() as session:
                states = dict(
                    session.execute(
                        select(ProcessedEvent.key, ProcessedEvent.status).where(ProcessedEvent.key.in_(keys))
                    ).all()
                )
        except Exception:  # the database is still coming back
            states = {}
        if states and all(s == "done" for s in states.values()) and len(states) == len(keys):
            return states
        time.sleep(0.2)
    return states


@pytest.mark.slow
def test_postgres_restarted_mid_answer_loses_nothing(postgres: PrivatePostgres, redis_url: str, tmp_path: Path) -> None:
    database = _database(postgres)
    prefix = f"pg-{uuid.uuid4().hex[:8]}:"
    with SimulatedEngine(SimulatorConfig(inter_token=0.08, answer=lambda _m: ANSWER)) as sim:
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "ENGINE_URL": sim.url,
            "EVENT_LEASE_SECONDS": "2",
            "RECONCILE_INTERVAL": "0.5",
            "WORKER_CONCURRENCY": "2",
            "SCHED_ENGINE_SLOTS": "2",
            "LLMOS_HOME": str(tmp_path),
            "LOG_LEVEL": "WARNING",
        }
        settings = make_settings(
            tmp_path, database_url=database, redis_url=redis_url, redis_key_prefix=prefix, engine_url=sim.url
        )
        with Stack(settings) as client:
            worker = subprocess.Popen(
                [sys.executable, "-m", "bots.cli", "worker"], cwd=REPO, env=env, start_new_session=True
            )
            try:
                sent = [terminal_event(f"question {i}", thread=f"pg-{i}") for i in range(4)]
                for event in sent:
                    submit(event, sessions=client.sessions, enqueue=client.enqueue)
                bus_items(client.bus, sent[0].key, until="delta", timeout=60)
                postgres.restart()
                states = _done(client, [e.key for e in sent], timeout=90)
                assert states == {e.key: "done" for e in sent}
                # The engine slots came back: a message sent after the restart is answered too.
                after = terminal_event("after the restart", thread="pg-after")
                submit(after, sessions=client.sessions, enqueue=client.enqueue)
                assert _done(client, [after.key], timeout=60) == {after.key: "done"}
            finally:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(30)
            with client.sessions() as session:
                for event in [*sent, after]:
                    stored = session.scalars(
                        select(Message.content).where(Message.event_key == event.key, Message.role == "assistant")
                    ).all()
                    assert stored == [ANSWER], event.key
        client.db.dispose()
