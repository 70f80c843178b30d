"""The scheduler on the whole task path (PostgreSQL, Redis, Celery workers, engine simulator)."""

from __future__ import annotations

import re
import time
from typing import Any

from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.helpers import settle
from tests.workers.scheduler.conftest import event, items_of, private_stack
from workers.events import Event, PriorityClass
from workers.intake import Enqueue, submit
from workers.tasks import send, ticket

BATCH = PriorityClass.BATCH


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def asked(sim: SimulatedEngine) -> list[str]:
    """The user text of each request, in the order the engine received them."""
    return [r.body["messages"][-1]["content"] for r in sim.requests]


def test_admission_holds_work_back_while_the_engine_is_full(pg_redis: dict[str, Any]) -> None:
    with SimulatedEngine(SimulatorConfig(ttft=0.2)) as sim, private_stack(engine=sim, engine_slots=2, **pg_redis) as st:
        events = [event(f"question {n}", user=f"u{n}") for n in range(6)]
        for ev in events:
            assert submit(ev, sessions=st.sessions, enqueue=st.enqueue).accepted
        assert len(st.scheduler.store.running()) == 2  # four wait in the scheduler, not at the engine
        for ev in events:
            assert items_of(st, ev.key)[-1]["type"] == "done"
        wait_for(lambda: st.scheduler.store.running() == {})  # each slot freed as its task ended
        assert sim.max_in_flight == 2 and len(sim.requests) == 6


def register_then_enqueue(st: Any, events: list[Event], enqueue: Enqueue) -> None:
    """Store the events through intake first, then hand them over in one quick burst, so the order the
    engine sees comes from the queues alone and not from how long each intake took on a busy machine."""
    taken: list[Event] = []
    for ev in events:
        assert submit(ev, sessions=st.sessions, enqueue=taken.append).accepted
    for ev in taken:
        enqueue(ev)


def test_a_high_priority_event_behind_many_low_ones_runs_next(pg_redis: dict[str, Any]) -> None:
    with SimulatedEngine(SimulatorConfig(ttft=0.3)) as sim, private_stack(engine=sim, engine_slots=1, **pg_redis) as st:
        burst = [event(f"batch {n}", priority=BATCH) for n in range(6)] + [event("a person asks")]
        register_then_enqueue(st, burst, st.enqueue)
        wait_for(lambda: len(sim.requests) == 7, timeout=20)
        assert asked(sim)[:2] == ["batch 0", "a person asks"]
        settle(st)


def straight_to_celery(st: Any) -> Enqueue:
    """Send events to the stack's broker on their class's queue and priority, past the scheduler."""

    def enqueue(item: Event) -> None:
        send(st.app, ticket(key=item.key, kind=str(item.kind), priority=str(item.priority)))

    return enqueue


def test_celery_alone_runs_the_high_priority_task_next(pg_redis: dict[str, Any]) -> None:
    """The queues beneath the scheduler keep the order too: one thread, prefetch 1, priority 0 vs 6."""
    with (
        SimulatedEngine(SimulatorConfig(ttft=0.3)) as sim,
        private_stack(engine=sim, concurrency=1, interactive_workers=0, **pg_redis) as st,
    ):
        burst = [event(f"batch {n}", priority=BATCH) for n in range(8)] + [event("a person asks")]
        register_then_enqueue(st, burst, straight_to_celery(st))
        wait_for(lambda: len(sim.requests) == 9, timeout=20)
        assert asked(sim).index("a person asks") <= 1  # next after the one already running
        settle(st)


def _person_overtakes_the_flood(sim: SimulatedEngine, st: Any) -> bool:
    """True if a person's request reaches the engine before any batch request streaming at the time ends."""
    flood = [event(f"batch {n}", priority=BATCH, user=f"job{n}") for n in range(10)]
    register_then_enqueue(st, flood, st.enqueue)
    wait_for(lambda: sim.in_flight == 2)  # both general threads are streaming batch answers
    running = [r for r in sim.requests if r.finished_at is None]
    submit(event("a person asks"), sessions=st.sessions, enqueue=st.enqueue)
    wait_for(lambda: "a person asks" in asked(sim), timeout=30)
    person = next(r for r in sim.requests if r.body["messages"][-1]["content"] == "a person asks")
    wait_for(lambda: all(r.finished_at is not None for r in running), timeout=30)
    return person.arrived < min(r.finished_at or 0.0 for r in running)


def test_reserved_capacity_answers_a_person_during_a_batch_flood(pg_redis: dict[str, Any]) -> None:
    config = SimulatorConfig(ttft=1.5)
    with SimulatedEngine(config) as sim, private_stack(engine=sim, engine_slots=4, reserved_slots=1, **pg_redis) as st:
        assert _person_overtakes_the_flood(sim, st)
    # The same flood without the interactive-only threads: the person waits for a batch answer to end.
    with (
        SimulatedEngine(config) as sim,
        private_stack(engine=sim, engine_slots=4, reserved_slots=0, interactive_workers=0, **pg_redis) as st,
    ):
        assert not _person_overtakes_the_flood(sim, st)


def test_the_tenant_served_least_goes_first(pg_redis: dict[str, Any]) -> None:
    with SimulatedEngine(SimulatorConfig(ttft=0.1)) as sim, private_stack(engine=sim, engine_slots=1, **pg_redis) as st:
        warm = event("warm up", tenant="other")
        submit(warm, sessions=st.sessions, enqueue=st.enqueue)
        items_of(st, warm.key)
        settle(st)  # tokens per request measured: what each admission charges
        sim.requests.clear()
        heavy = [event(f"heavy {n}", tenant="heavy", user=f"h{n}") for n in range(6)]
        light = [event(f"light {n}", tenant="light", user=f"l{n}") for n in range(2)]
        register_then_enqueue(st, heavy + light, st.enqueue)
        wait_for(lambda: len(sim.requests) == 8, timeout=20)
        # First come, first served would put the light tenant last; the counters let it take turns.
        assert asked(sim)[:5] == ["heavy 0", "heavy 1", "light 0", "heavy 2", "light 1"]
        settle(st)
        wait_for(lambda: st.scheduler.store.running() == {})
        counters = st.scheduler.store.counters()
        assert counters["terminal:heavy"] > counters["terminal:light"] > 0


def test_a_person_facing_a_long_wait_is_told_so(pg_redis: dict[str, Any]) -> None:
    with (
        SimulatedEngine(SimulatorConfig(ttft=0.4)) as sim,
        private_stack(engine=sim, engine_slots=1, tell_wait_seconds=0.5, **pg_redis) as st,
    ):
        first = event("warm up")
        submit(first, sessions=st.sessions, enqueue=st.enqueue)
        items_of(st, first.key)
        settle(st)  # one answer measured: about 0.4 s per request
        queue = [event(f"question {n}", user=f"u{n}") for n in range(4)]
        for ev in queue:
            submit(ev, sessions=st.sessions, enqueue=st.enqueue)
        seen = [items_of(st, ev.key) for ev in queue]
        notes = [item["text"] for items in seen for item in items if item["type"] == "status"]
        assert notes, "nobody was told about the wait"
        assert all(re.fullmatch(r"Queued, about \d+ s before I can start on this\.", note) for note in notes)
        assert "status" not in [item["type"] for item in seen[0]]  # the first went straight in
        for items in seen:
            assert [item["type"] for item in items].count("done") == 1
            assert items[-1]["text"].startswith("You said: question")
        settle(st)
