"""What a dying process leaves behind is mended, and engine slots follow the engine's own metrics."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.orm import sessionmaker

from db.session import make_engine
from engine.base import ChatMessage, ChatRequest
from engine.openai_compat import OpenAICompatEngine
from engine.simulator import SimulatedEngine, SimulatorConfig
from tests.conftest import make_scheduling, make_settings
from tests.helpers import settle
from tests.workers.scheduler.conftest import event, items_of, private_stack
from workers.app import create_app
from workers.events import Event, PriorityClass
from workers.intake import submit
from workers.scheduler.dispatch import Scheduler, tenant_key
from workers.scheduler.memory_store import MemoryStore
from workers.scheduler.store import Waiting
from workers.scheduler.sweeper import Sweeper
from workers.stack import Stack


def held(stack: Stack, ev: Event) -> Waiting:
    return Waiting(key=ev.key, priority=ev.priority, tenant=tenant_key(ev), weight=1.0, payload=ev.to_dict())


def later(stack: Stack, *, stuck_after: float = 900.0) -> Sweeper:
    """A sweeper of our own, run by hand at a time of our choosing."""
    return Sweeper(scheduler=stack.scheduler, sessions=stack.sessions, metrics_url=None, stuck_after=stuck_after)


def admit_without_sending(stack: Stack, ev: Event) -> None:
    """What a process leaves when it dies between admitting an event and handing it to Celery."""
    submit(ev, sessions=stack.sessions, enqueue=lambda e: stack.scheduler.store.push(held(stack, e), now=time.time()))
    admitted = stack.scheduler.store.admit(now=time.time(), reserved=0, default_slots=4, tokens_default=100)
    assert [w.key for w in admitted] == [ev.key]


def test_an_event_admitted_by_a_process_that_died_is_sent_again(pg_redis: dict[str, Any]) -> None:
    with SimulatedEngine() as sim, private_stack(engine=sim, engine_slots=4, **pg_redis) as st:
        ev = event("left behind")
        admit_without_sending(st, ev)
        sweeper = later(st)
        sweeper.sweep(now=time.time())
        assert sim.requests == []  # too early: its sender may just be slow
        sweeper.sweep(now=time.time() + st.scheduling.resend_after + 1)
        assert items_of(st, ev.key)[-1]["text"] == "You said: left behind"
        settle(st)


def test_a_slot_never_freed_by_a_dead_worker_is_freed(pg_redis: dict[str, Any]) -> None:
    with SimulatedEngine() as sim, private_stack(engine=sim, engine_slots=4, **pg_redis) as st:
        ev = event("answered")
        submit(ev, sessions=st.sessions, enqueue=st.enqueue)
        items_of(st, ev.key)
        settle(st)
        # The answer is stored, but the worker died before it freed the slot.
        st.scheduler.store.push(held(st, ev), now=time.time())
        st.scheduler.store.admit(now=time.time(), reserved=0, default_slots=4, tokens_default=100)
        st.scheduler.store.sent(ev.key)
        later(st).sweep(now=time.time() + st.scheduling.resend_after + 1)
        assert st.scheduler.store.running() == {}
        assert len(sim.requests) == 1  # freed, not answered twice


def test_an_admitted_event_no_worker_took_is_sent_again(pg_redis: dict[str, Any]) -> None:
    with SimulatedEngine() as sim, private_stack(engine=sim, engine_slots=4, **pg_redis) as st:
        ev = event("lost by the broker")
        admit_without_sending(st, ev)
        st.scheduler.store.sent(ev.key)  # it was sent, but the message never reached a worker
        later(st, stuck_after=60).sweep(now=time.time() + 61)
        assert items_of(st, ev.key)[-1]["text"] == "You said: lost by the broker"
        settle(st)


def test_slots_follow_the_engine_metrics(tmp_path: Any) -> None:
    settings = make_settings(tmp_path)
    scheduler = Scheduler(
        store=MemoryStore(),
        app=create_app(settings, broker_url="memory://localhost/"),
        sessions=sessionmaker(make_engine("sqlite://")),
        settings=make_scheduling(engine_slots=None, max_engine_slots=16),
    )
    with SimulatedEngine(SimulatorConfig(vllm=True, capacity=2, ttft=1.5)) as sim:
        sweeper = Sweeper(
            scheduler=scheduler, sessions=sessionmaker(), metrics_url=f"{sim.url}/metrics", stuck_after=900
        )
        for n in range(4):
            scheduler.store.push(Waiting(f"k{n}", event("x").priority, "t", 1.0, {}), now=0.0)
        grown = []
        for _ in range(3):
            grown.append(sweeper.adjust_slots())
            scheduler.store.admit(now=0.0, reserved=0, default_slots=1, tokens_default=1)
        # We fill every slot and the engine queues nothing: the limit doubles.
        assert grown == [1, 2, 4] and len(scheduler.store.running()) == 4
        engine = OpenAICompatEngine(url=sim.url)
        request = ChatRequest(messages=(ChatMessage("user", "hi"),))
        streams = [threading.Thread(target=lambda: list(engine.stream(request))) for _ in range(4)]
        for stream in streams:
            stream.start()
        deadline = time.monotonic() + 5
        while (sim.in_flight, sim.waiting) != (2, 2) and time.monotonic() < deadline:
            time.sleep(0.01)
        # The engine runs 2 and queues 2 of our 4: its batch is full at 2.
        assert sweeper.adjust_slots() == 2
        assert scheduler.store.admit(now=1.0, reserved=0, default_slots=1, tokens_default=1) == []
        for stream in streams:
            stream.join()
        engine.close()
        sweeper.stop()


def test_admission_never_exceeds_the_threads_that_can_run_it(tmp_path: Any) -> None:
    settings = make_settings(tmp_path)
    scheduler = Scheduler(
        store=MemoryStore(),
        app=create_app(settings, broker_url="memory://localhost/"),
        sessions=sessionmaker(make_engine("sqlite://")),
        settings=make_scheduling(engine_slots=64, reserved_slots=1),
    )
    sweeper = Sweeper(scheduler=scheduler, sessions=sessionmaker(), metrics_url=None, stuck_after=900)
    sweeper.serve(general=4, interactive=2)
    sweeper.sweep(now=time.time())
    # 6 threads in all; the 2 that take only interactive work are its reserved slots.
    stats = scheduler.store.stats(now=time.time())
    assert stats.slots == 6
    for n in range(10):
        scheduler.store.push(Waiting(f"b{n}", PriorityClass.BATCH, "t", 1.0, {}), now=0.0)
    assert len(scheduler.store.admit(now=1.0, reserved=0, default_slots=1, tokens_default=1)) == 4
    scheduler.store.push(Waiting("person", PriorityClass.INTERACTIVE, "t", 1.0, {}), now=0.0)
    assert [w.key for w in scheduler.store.admit(now=1.0, reserved=0, default_slots=1, tokens_default=1)] == ["person"]
    sweeper.stop()
