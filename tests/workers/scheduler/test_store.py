"""The dispatch stage's rules, on the Redis store (Lua) and the in-process store alike."""

from __future__ import annotations

import pytest

from tests.workers.scheduler.conftest import item
from workers.events import PriorityClass
from workers.scheduler.store import Store

INTERACTIVE, COMMANDS, BATCH = PriorityClass.INTERACTIVE, PriorityClass.COMMANDS, PriorityClass.BATCH
EST = 300


def admit(store: Store, *, reserved: int = 0, now: float = 100.0) -> list[str]:
    return [w.key for w in store.admit(now=now, reserved=reserved, default_slots=1, tokens_default=EST)]


def serve_all(store: Store, *, tokens: int = EST) -> list[str]:
    """Run one at a time until nothing waits: admit, finish with `tokens`, repeat."""
    order: list[str] = []
    while True:
        admitted = admit(store)
        if not admitted:
            return order
        for key in admitted:
            order.append(key)
            store.release(key, tokens=tokens, now=101.0)


def test_a_high_priority_event_behind_many_low_ones_goes_next(store: Store) -> None:
    store.set_slots(1)
    for n in range(8):
        store.push(item(f"batch-{n}"), now=1.0)
    assert admit(store) == ["batch-0"]
    assert store.push(item("ask", priority=INTERACTIVE), now=2.0) == 0  # nothing ahead of it in its class
    store.push(item("cmd", priority=COMMANDS), now=2.0)
    assert admit(store) == []  # the one slot is busy: nothing is pushed at the engine
    store.release("batch-0", tokens=EST, now=3.0)
    assert serve_all(store)[:3] == ["ask", "cmd", "batch-1"]


def test_reserved_slots_are_left_for_interactive_work(store: Store) -> None:
    store.set_slots(3)
    for n in range(5):
        store.push(item(f"batch-{n}"), now=1.0)
    assert admit(store, reserved=1) == ["batch-0", "batch-1"]
    store.push(item("ask", priority=INTERACTIVE), now=2.0)
    assert admit(store, reserved=1) == ["ask"]
    assert set(store.running()) == {"batch-0", "batch-1", "ask"}


def test_reservation_never_takes_the_only_slot(store: Store) -> None:
    store.set_slots(1)
    store.push(item("batch-0"), now=1.0)
    assert admit(store, reserved=1) == ["batch-0"]


def test_the_tenant_served_least_goes_next(store: Store) -> None:
    store.set_slots(1)
    for n in range(6):
        store.push(item(f"a{n}", tenant="a"), now=1.0)
    assert admit(store) == ["a0"]
    # b arrives while a waits: it is lifted to a's counter and from then on they take turns.
    store.push(item("b0", tenant="b"), now=2.0)
    store.push(item("b1", tenant="b"), now=2.0)
    store.release("a0", tokens=EST, now=3.0)
    assert serve_all(store) == ["a1", "b0", "a2", "b1", "a3", "a4", "a5"]


def test_counters_charge_real_tokens_divided_by_weight(store: Store) -> None:
    store.set_slots(1)
    store.push(item("a0", tenant="a"), now=1.0)
    store.push(item("b0", tenant="b", weight=2.0), now=1.0)
    assert admit(store) == ["a0"]
    assert store.counters()["a"] == pytest.approx(EST)
    store.release("a0", tokens=1000, now=2.0)
    assert store.counters()["a"] == pytest.approx(1000)
    assert admit(store) == ["b0"]
    store.release("b0", tokens=1000, now=3.0)
    assert store.counters()["b"] == pytest.approx(500)
    assert store.release("b0", tokens=1000, now=4.0) is False  # a second release changes nothing
    assert store.counters()["b"] == pytest.approx(500)


def test_a_heavier_weight_buys_a_larger_share(store: Store) -> None:
    store.set_slots(1)
    for n in range(12):
        store.push(item(f"a{n}", tenant="a"), now=1.0)
        store.push(item(f"b{n}", tenant="b", weight=2.0), now=1.0)
    first = serve_all(store)[:12]
    assert sum(key.startswith("b") for key in first) == 8  # two of every three


def test_an_idle_tenant_does_not_bank_credit(store: Store) -> None:
    store.set_slots(1)
    for n in range(10):
        store.push(item(f"a{n}", tenant="a"), now=1.0)
    for key in serve_all(store)[:5]:
        assert key.startswith("a")
    # All of a is served; b was idle the whole time and starts level with a, not 3000 tokens behind.
    for n in range(4):
        store.push(item(f"a-late{n}", tenant="a"), now=5.0)
        store.push(item(f"b{n}", tenant="b"), now=5.0)
    order = serve_all(store)
    assert order[:4] in (["a-late0", "b0", "a-late1", "b1"], ["b0", "a-late0", "b1", "a-late1"])


def test_a_second_push_of_a_held_event_is_ignored(store: Store) -> None:
    assert store.push(item("x"), now=1.0) == 0
    assert store.push(item("x"), now=1.0) is None
    store.set_slots(1)
    assert admit(store) == ["x"]
    assert store.push(item("x"), now=2.0) is None  # still holding its slot


def test_admitted_events_are_unsent_until_confirmed(store: Store) -> None:
    store.set_slots(2)
    store.push(item("x"), now=1.0)
    store.push(item("y"), now=1.0)
    assert admit(store, now=10.0) == ["x", "y"]
    store.sent("x")
    assert [w.key for w in store.unsent(admitted_before=11.0)] == ["y"]
    assert store.unsent(admitted_before=9.0) == []
    store.release("y", tokens=0, now=12.0)
    assert store.unsent(admitted_before=20.0) == []


def test_stats_measure_arrivals_and_service(store: Store) -> None:
    store.set_slots(2)
    for n in range(6):
        store.push(item(f"i{n}", priority=INTERACTIVE), now=100.0 + n)
    store.push(item("b", priority=BATCH), now=105.0)
    assert admit(store, now=106.0) == ["i0", "i1"]
    store.release("i0", tokens=500, now=110.0)
    stats = store.stats(now=106.0)
    assert stats.slots == 2 and stats.in_flight == 1
    assert stats.queued == {INTERACTIVE: 4, COMMANDS: 0, BATCH: 1}
    assert stats.arrivals[INTERACTIVE] == pytest.approx(6 / 60, rel=0.1)
    assert stats.arrivals[COMMANDS] == 0
    assert stats.service_time == pytest.approx(4.0)
    assert stats.tokens_per_request == pytest.approx(500)


def test_lead_is_held_by_one_process_at_a_time(store: Store) -> None:
    assert store.lead("one", ttl=5.0)
    assert store.lead("one", ttl=5.0)
    if type(store).__name__ == "RedisStore":
        assert not store.lead("two", ttl=5.0)


def test_worker_threads_count_while_their_process_beats(store: Store) -> None:
    store.heartbeat("a", general=4, interactive=1, until=110.0)
    store.heartbeat("b", general=2, interactive=0, until=105.0)
    assert store.threads(now=100.0) == (6, 1)
    assert store.threads(now=106.0) == (4, 1)  # b stopped beating


def test_reserved_slots_set_in_the_store_win(store: Store) -> None:
    store.set_slots(4, reserved=2)
    for n in range(5):
        store.push(item(f"batch-{n}"), now=1.0)
    assert admit(store, reserved=0) == ["batch-0", "batch-1"]


def test_nothing_is_held_back_while_slots_are_free(store: Store) -> None:
    """Work-conserving: a tenant far ahead on tokens still gets every free slot when nobody else waits."""
    store.set_slots(1)
    store.push(item("b0", tenant="b"), now=1.0)
    assert admit(store) == ["b0"]
    store.release("b0", tokens=10, now=2.0)
    store.push(item("a0", tenant="a"), now=2.0)
    assert admit(store) == ["a0"]
    store.release("a0", tokens=100_000, now=3.0)  # a has used far more than b
    store.set_slots(3)
    for n in range(1, 6):
        store.push(item(f"a{n}", tenant="a"), now=4.0)
    assert admit(store) == ["a1", "a2", "a3"]


def test_idle_tenants_state_is_forgotten_and_busy_ones_kept(store: Store) -> None:
    store.set_slots(1)
    store.push(item("dm-1", tenant="dm:alice"), now=100.0)
    assert admit(store) == ["dm-1"]
    store.release("dm-1", tokens=50, now=102.0)
    store.push(item("dm-2", tenant="dm:bob"), now=103.0)  # waits: nothing admits it here
    assert "dm:alice" in store.counters()
    # Long after, alice is idle and forgotten; bob still has an event waiting and is kept.
    assert store.forget_idle(idle_before=10_000.0) == 1
    assert "dm:alice" not in store.counters()
    assert store.forget_idle(idle_before=10_000.0) == 0
    assert admit(store) == ["dm-2"]
    # A forgotten tenant that comes back is scheduled like any newcomer.
    store.push(item("dm-3", tenant="dm:alice"), now=20_000.0)
    store.release("dm-2", tokens=10, now=20_001.0)
    assert admit(store) == ["dm-3"]
