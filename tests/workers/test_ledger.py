"""The ledger and its reconciler: each fault ends with every event answered once, as the ledger shows.

The reconciler runs by itself in the stack's sweeper; these tests also call it with a clock moved
forward, so a takeover that waits for a lease period happens now instead of in 15 seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select, update

from db import events, migrate
from db.models import Message, ProcessedEvent
from db.session import make_engine, make_sessionmaker
from engine.simulator import SimulatedEngine
from tests.helpers import messages, settle
from tests.workers.test_redelivery import REPO, bus_items, terminal_event
from workers import pipeline
from workers.intake import submit
from workers.leases import MemoryLeases, RedisLeases, process_of
from workers.replybus import RedisReplyBus, follow
from workers.scheduler.reconcile import DROPPED, PENDING_GRACE, Reconciler
from workers.stack import Stack


def reconciler(stack: Stack) -> Reconciler:
    assert stack.reconciler is not None
    return stack.reconciler


def row(stack: Stack, key: str) -> ProcessedEvent:
    with stack.sessions() as session:
        found = session.get(ProcessedEvent, key)
        assert found is not None
        return found


def wait_for(stack: Stack, key: str, *states: str, timeout: float = 30.0) -> ProcessedEvent:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = row(stack, key)
        if found.status in states:
            return found
        time.sleep(0.05)
    raise AssertionError(f"event {key} is {row(stack, key).status}, not {states}")


def answers(stack: Stack, key: str) -> list[str]:
    with stack.sessions() as session:
        return list(
            session.scalars(select(Message.content).where(Message.event_key == key, Message.role == "assistant"))
        )


def later(stack: Stack, seconds: float) -> None:
    """Two reconciler passes, the second `seconds` on: long enough for whatever it waits out."""
    now = time.time()
    reconciler(stack).run(now=now)
    reconciler(stack).run(now=now + seconds)


def test_an_event_stored_but_never_queued_is_answered(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    """The intake process died between its commit and the enqueue."""
    event = terminal_event("Is anyone there?")
    submit(event, sessions=clean_stack.sessions, enqueue=lambda _event: None)
    assert row(clean_stack, event.key).status == "pending"
    later(clean_stack, PENDING_GRACE + 1)
    done = wait_for(clean_stack, event.key, "done")
    assert done.attempts == 1
    assert answers(clean_stack, event.key) == ["You said: Is anyone there?"]
    assert len(simulator.requests) == 1


def test_a_dead_workers_event_is_taken_over_in_its_own_message(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    event = terminal_event("Tell me about lighthouses")
    submit(event, sessions=clean_stack.sessions, enqueue=lambda _event: None)
    # A worker claimed it and opened the answer message, then died (no lease renews it any more).
    with clean_stack.sessions.begin() as session:
        claimed = events.claim(session, key=event.key, owner="dead-worker", max_attempts=3)
        assert isinstance(claimed, events.Claimed) and claimed.fence == 1
    clean_stack.bus.publish(event.key, {"type": "start"})
    clean_stack.bus.publish(event.key, {"type": "delta", "text": "Light"})
    clean_stack.leases.set_reply(event.key, event.key)

    later(clean_stack, clean_stack.settings.event_lease_seconds + 1)
    done = wait_for(clean_stack, event.key, "done")
    assert done.attempts == 2 and done.lease_owner is None
    assert answers(clean_stack, event.key) == ["You said: Tell me about lighthouses"]
    kinds = [item["type"] for item in bus_items(clean_stack.bus, event.key)]
    # The new attempt took the same message over (reset), and answered once.
    assert kinds.count("start") == 1 and kinds.count("reset") == 1 and kinds.count("done") == 1


def test_a_worker_that_lost_its_event_can_not_store(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    event = terminal_event("fenced")
    submit(event, sessions=clean_stack.sessions, enqueue=lambda _event: None)
    with clean_stack.sessions.begin() as session:
        first = events.claim(session, key=event.key, owner="slow", max_attempts=3)
        second = events.claim(session, key=event.key, owner="fast", max_attempts=3)
    assert isinstance(first, events.Claimed) and isinstance(second, events.Claimed)
    with clean_stack.sessions.begin() as session:
        assert not events.finish(session, key=event.key, fence=first.fence)
        assert events.finish(session, key=event.key, fence=second.fence)
    assert row(clean_stack, event.key).status == "done"


def test_an_event_that_kills_every_worker_ends_failed_and_is_told_once(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    event = terminal_event("poison")
    submit(event, sessions=clean_stack.sessions, enqueue=lambda _event: None)
    max_attempts = clean_stack.settings.event_max_attempts
    for attempt in range(max_attempts):
        with clean_stack.sessions.begin() as session:
            assert isinstance(
                events.claim(session, key=event.key, owner=f"died-{attempt}", max_attempts=max_attempts), events.Claimed
            )
    runtime = clean_stack.start_runtime()
    assert pipeline.process(event.key, runtime).outcome is pipeline.Outcome.FAILED
    assert pipeline.process(event.key, runtime).outcome is pipeline.Outcome.DUPLICATE
    failed = row(clean_stack, event.key)
    assert (failed.status, failed.failure, failed.attempts) == ("failed", "poison", max_attempts)
    told = [item for item in bus_items(clean_stack.bus, event.key, until="error") if item["type"] == "error"]
    assert len(told) == 1 and "every attempt failed" in told[0]["text"]
    assert simulator.requests == []


def test_engine_failures_older_than_the_window_are_closed_and_told(
    clean_stack: Stack, simulator: SimulatedEngine
) -> None:
    simulator.config.mode = "unavailable"
    event = terminal_event("too late")
    submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    wait_for(clean_stack, event.key, "failed")
    with clean_stack.sessions.begin() as session:
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.key == event.key)
            .values(received_at=time.time() - clean_stack.settings.engine_resend_within - 60)
        )
    simulator.config.mode = "ok"
    asked = len(simulator.requests)
    report = reconciler(clean_stack).run()
    assert report.dropped == [event.key] and report.resent == []
    told: list[str] = []
    deadline = time.monotonic() + 10
    while DROPPED not in told and time.monotonic() < deadline:
        told = [i["text"] for _, i in clean_stack.bus.read(event.key, after="0", timeout=0.5) if i["type"] == "error"]
    # The apology first, then the same message closed with why it will not be answered.
    assert len(told) == 2 and told[-1] == DROPPED
    assert (row(clean_stack, event.key).status, row(clean_stack, event.key).failure) == ("failed", "dropped")
    assert reconciler(clean_stack).run().dropped == []  # told once
    assert len(simulator.requests) == asked  # not asked again


def test_redis_restarted_empty_loses_nothing(clean_stack: Stack, simulator: SimulatedEngine, backend: Any) -> None:
    """Waiting, admitted and running events all vanish from Redis; the ledger brings each back once."""
    if backend.redis_url is None:
        pytest.skip("the in-process broker has no Redis to lose")
    simulator.config.inter_token = 0.03
    simulator.config.answer = lambda _m: " ".join(["word"] * 20)
    sent = [terminal_event(f"question {i}", thread=f"flush-{i}") for i in range(6)]
    for event in sent:
        submit(event, sessions=clean_stack.sessions, enqueue=clean_stack.enqueue)
    bus_items(clean_stack.bus, sent[0].key, until="delta")
    client = redis.Redis.from_url(backend.redis_url)
    client.flushdb()
    client.close()
    later(clean_stack, PENDING_GRACE + clean_stack.settings.event_lease_seconds + 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(row(clean_stack, e.key).status != "done" for e in sent):
        reconciler(clean_stack).run(now=time.time() + PENDING_GRACE + clean_stack.settings.event_lease_seconds + 1)
        time.sleep(0.5)
    for event in sent:
        assert row(clean_stack, event.key).status == "done"
        assert answers(clean_stack, event.key) == [" ".join(["word"] * 20)]
    settle(clean_stack)
    assert len(messages(clean_stack, "assistant")) == len(sent)


def test_a_follower_is_told_when_the_bus_breaks() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    started = time.monotonic()
    items = list(follow(RedisReplyBus(dead), f"gone-{uuid.uuid4().hex}", idle_timeout=30, patience=1.0))
    assert [item["type"] for item in items] == ["error"]
    assert "reload" in items[0]["text"]
    assert time.monotonic() - started < 10


def test_a_restarted_in_process_llmos_answers_what_was_left_pending(tmp_path: Path, simulator: SimulatedEngine) -> None:
    """`llmos run` on the in-process broker was killed with an event accepted but unanswered: the next
    LLMOS process on the same database answers it (its queue died with it; the ledger did not)."""
    database = f"sqlite:///{tmp_path / 'llmos.db'}"
    migrate.upgrade(database)
    engine = make_engine(database)
    sessions = make_sessionmaker(engine)
    left = terminal_event("Were you killed?")
    submit(left, sessions=sessions, enqueue=lambda _event: None)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "ENGINE_URL": simulator.url,
        "REDIS_AUTODETECT": "false",
        "LLMOS_HOME": str(tmp_path),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "bots.cli", "chat", "And now?"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "You said: And now?" in result.stdout
    with sessions() as session:
        found = session.get(ProcessedEvent, left.key)
        assert found is not None and found.status == "done"
        stored = session.scalars(
            select(Message.content).where(Message.event_key == left.key, Message.role == "assistant")
        ).all()
        assert stored == ["You said: Were you killed?"]
    engine.dispose()


def test_events_on_their_last_attempt_are_retried_one_at_a_time(clean_stack: Stack, simulator: SimulatedEngine) -> None:
    """Two events that died with their worker twice: one may be a poison event that killed the other
    beside it, so their last attempts do not run side by side."""
    simulator.config.inter_token = 0.2
    simulator.config.answer = lambda _m: "slow " * 10
    pair = [terminal_event(f"twice dead {i}", thread=f"last-{i}") for i in range(2)]
    last = clean_stack.settings.event_max_attempts
    for event in pair:
        submit(event, sessions=clean_stack.sessions, enqueue=lambda _event: None)
        for attempt in range(last - 1):
            with clean_stack.sessions.begin() as session:
                events.claim(session, key=event.key, owner=f"dead-{attempt}", max_attempts=last)
    now = time.time()
    reconciler(clean_stack).run(now=now)
    taken = reconciler(clean_stack).run(now=now + clean_stack.settings.event_lease_seconds + 1).taken_over
    assert len(taken) <= 1
    first = wait_for(clean_stack, pair[0].key, "done", "running", timeout=10)
    # The other waits until the first, on its last attempt, is finished.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(row(clean_stack, e.key).status != "done" for e in pair):
        reconciler(clean_stack).run(now=time.time() + clean_stack.settings.event_lease_seconds + 1)
        time.sleep(0.3)
    assert [row(clean_stack, e.key).status for e in pair] == ["done", "done"], first.status
    assert [row(clean_stack, e.key).attempts for e in pair] == [last, last]


def test_a_dead_processs_lease_is_taken_over_at_once(
    clean_stack: Stack, simulator: SimulatedEngine, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed worker's lease is still in Redis, but its process's alive mark is gone: the reconciler
    hands the event over on its next pass, not a lease period later; and when the attempt it was
    handed to dies too, that one is handed over again without waiting out the hold-off."""
    if backend.redis_url is None:
        pytest.skip("on the in-process broker the leases die with the only process")
    event = terminal_event("Did my worker die?")
    submit(event, sessions=clean_stack.sessions, enqueue=lambda _event: None)
    client = redis.Redis.from_url(backend.redis_url)
    ttl = clean_stack.settings.event_lease_seconds
    # Leases have been kept for a while (no Redis restart a lease period ago to wait out).
    client.set(f"{clean_stack.settings.redis_key_prefix}llmos:lease-epoch", repr(time.time() - 2 * ttl))
    handed: list[str] = []
    # The handovers are recorded instead of sent, so that this test plays the attempts that die.
    monkeypatch.setattr(reconciler(clean_stack), "_requeue", lambda e, held: handed.append(e.key))

    def dies(attempt: int) -> None:
        owner = f"gone-host:{attempt}:0badc0de:7"
        with clean_stack.sessions.begin() as session:
            assert isinstance(events.claim(session, key=event.key, owner=owner, max_attempts=3), events.Claimed)
        # The lease as its worker left it; that process's alive mark has lapsed.
        client.set(f"{clean_stack.settings.redis_key_prefix}llmos:lease:{event.key}", owner, px=int(ttl * 1000))
        assert clean_stack.leases.live([event.key]) == set()

    dies(1)
    assert reconciler(clean_stack).run().taken_over == [event.key]
    assert reconciler(clean_stack).run().taken_over == []  # the new attempt gets its time to show up
    dies(2)
    assert reconciler(clean_stack).run().taken_over == [event.key]
    assert handed == [event.key, event.key]
    monkeypatch.undo()
    client.close()
    reconciler(clean_stack).run(now=time.time() + ttl + 1)  # the last handover, sent for real
    done = wait_for(clean_stack, event.key, "done")
    assert done.attempts == 3
    assert answers(clean_stack, event.key) == ["You said: Did my worker die?"]


def test_a_live_processs_lease_is_left_alone(backend: Any) -> None:
    if backend.redis_url is None:
        pytest.skip("Redis leases only")
    client = redis.Redis.from_url(backend.redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    leases = RedisLeases(client, prefix=prefix)
    holder, rival = "host-a:10:aa:1", "host-b:20:bb:2"
    assert leases.acquire("ev", holder, ttl=15).wait is None
    assert leases.live(["ev"]) == {"ev"}
    assert leases.acquire("ev", rival, ttl=15).wait == pytest.approx(15, abs=1)
    # The holder's process stops beating: its lease is free to the next attempt at once.
    client.delete(f"{prefix}llmos:alive:{process_of(holder)}")
    assert leases.live(["ev"]) == set()
    assert leases.acquire("ev", rival, ttl=15).wait is None
    assert leases.renew({"ev": holder}, ttl=15) == {"ev"}  # the stalled holder learns it lost the event
    assert leases.live(["ev"]) == {"ev"}
    client.close()


@pytest.mark.parametrize("store", ["redis", "memory"])
def test_stops_are_found_among_many_keys_in_one_look(backend: Any, store: str) -> None:
    if store == "redis" and backend.redis_url is None:
        pytest.skip("Redis leases only")
    client = redis.Redis.from_url(backend.redis_url) if store == "redis" else None
    leases = RedisLeases(client, prefix=f"t{uuid.uuid4().hex[:8]}:") if client is not None else MemoryLeases()
    leases.stop("b")
    leases.stop("d")
    assert leases.stopped_among(["a", "b", "c", "d"]) == {"b", "d"}
    assert leases.stopped_among([]) == set() and leases.stopping("b") and not leases.stopping("a")
    if client is not None:
        client.close()
