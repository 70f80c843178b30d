"""Exactly once as the user sees it: redelivered tasks neither answer twice nor store twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Message, ProcessedEvent, Usage
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.conftest import make_settings
from tests.helpers import count, messages, settle
from workers import pipeline
from workers.events import Event, Platform
from workers.intake import submit
from workers.replybus import ReplyBus
from workers.runtime import current
from workers.stack import Stack

REPO = Path(__file__).resolve().parents[2]


def terminal_event(text: str = "hello", **overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "platform": Platform.TERMINAL,
        "tenant": "local",
        "channel": "terminal",
        "thread": "redelivery",
        "user": "alice",
        "message_id": uuid.uuid4().hex,
        "text": text,
    }
    fields.update(overrides)
    return Event(**fields)


def bus_items(bus: ReplyBus, stream: str, *, until: str = "done", timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every item of one answer's stream, up to the first `until` item."""
    seen: list[dict[str, Any]] = []
    cursor = "0"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cursor, item in bus.read(stream, after=cursor, timeout=0.5):
            seen.append(item)
            if item["type"] == until:
                return seen
    raise AssertionError(f"no {until!r} on {stream}; saw {seen}")


def test_the_same_task_twice_answers_once(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    event = terminal_event("What is two plus two?")
    submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    settle(clean_stack)
    # The broker hands the same message over again (visibility timeout, a lost ack).
    clean_stack.enqueue(event)
    clean_stack.enqueue(event)
    time.sleep(0.5)
    settle(clean_stack)
    kinds = [item["type"] for item in bus_items(clean_stack.bus, event.key)]
    assert kinds.count("start") == 1 and kinds.count("done") == 1
    assert len(simulator.requests) == 1
    assert len(messages(clean_stack, "assistant")) == 1
    assert count(clean_stack, Usage) == 1


def test_a_platform_retry_is_not_queued_again(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    event = terminal_event("hi")
    first = submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    again = submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    settle(clean_stack)
    assert first.accepted and not again.accepted
    assert len(messages(clean_stack, "user")) == 1
    assert len(simulator.requests) == 1


def test_a_second_delivery_waits_while_the_first_is_answering(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    simulator.config.inter_token = 0.05
    simulator.config.answer = lambda _m: " ".join(["word"] * 20)
    event = terminal_event("slow one")
    submit(event, sessions=clean_stack.sessions, enqueue=lambda _e: None)
    runtime = current()
    first = threading.Thread(target=pipeline.process, args=(event.key, runtime))
    first.start()
    bus_items(clean_stack.bus, event.key, until="delta")
    with pytest.raises(pipeline.Busy) as busy:
        pipeline.process(event.key, runtime)
    assert 0 < busy.value.retry_in <= runtime.settings.event_lease_seconds
    first.join(10)
    assert pipeline.process(event.key, runtime).outcome is pipeline.Outcome.DUPLICATE
    assert len(messages(clean_stack, "assistant")) == 1
    assert len(simulator.requests) == 1


@pytest.mark.slow
def test_a_worker_killed_mid_answer_leaves_one_answer(pg_database: str, redis_url: str, tmp_path: Path) -> None:
    """SIGKILL a real `llmos worker` while it streams; the next worker resumes the same answer message
    within about two lease periods, with the broker's default 15-minute visibility timeout."""
    answer = " ".join(f"w{i}" for i in range(30))
    with SimulatedEngine(SimulatorConfig(inter_token=0.1, answer=lambda _m: answer)) as sim:
        env = {
            **os.environ,
            "DATABASE_URL": pg_database,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"kill-{uuid.uuid4().hex[:8]}:",
            "ENGINE_URL": sim.url,
            "EVENT_LEASE_SECONDS": "2",
            "RECONCILE_INTERVAL": "0.5",
            "WORKER_CONCURRENCY": "1",
            "LLMOS_HOME": str(tmp_path),
            "LOG_LEVEL": "WARNING",
        }
        settings = make_settings(
            tmp_path,
            database_url=pg_database,
            redis_url=redis_url,
            redis_key_prefix=env["REDIS_KEY_PREFIX"],
            engine_url=sim.url,
        )

        def worker() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "bots.cli", "worker"], cwd=REPO, env=env, start_new_session=True
            )

        with Stack(settings) as client:
            first = worker()
            try:
                event = terminal_event("tell me a long story", thread="killed")
                submit(event, sessions=client.sessions, enqueue=client.enqueue)
                bus_items(client.bus, event.key, until="delta", timeout=60)
            finally:
                os.killpg(first.pid, signal.SIGKILL)
                first.wait(10)
            killed = time.monotonic()
            second = worker()
            try:
                items = bus_items(client.bus, event.key, until="done", timeout=60)
                # Two lease periods, plus the new worker's start and the answer's 3 s of tokens.
                assert time.monotonic() - killed < 2 * 2 + 15
            finally:
                os.killpg(second.pid, signal.SIGTERM)
                second.wait(20)
            kinds = [item["type"] for item in items]
            assert kinds.count("start") == 1 and kinds.count("reset") == 1
            assert items[-1]["text"] == answer
            with client.sessions() as session:
                stored = session.scalars(
                    select(Message).where(Message.event_key == event.key, Message.role == "assistant")
                ).all()
                row = session.get(ProcessedEvent, event.key)
                assert [m.content for m in stored] == [answer]
                assert row is not None and row.status == "done" and row.attempts == 2
            assert len(sim.requests) == 2
