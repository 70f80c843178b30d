"""Expected waits from measured rates: M/M/c with non-preemptive priority classes.

Requests arrive per class at measured rates and hold an engine slot for a measured mean time; the
engine has `c` slots. Erlang's C formula gives the chance that an arrival finds every slot busy, and
Cobham's formula spreads the wait over the classes: higher classes are served first, so they wait
only for the slots to free and for their own class, while lower classes also wait behind every
arrival above them. The model describes the steady state; the queue a request actually joins is
known too, so the wait told to a person is never less than the time to clear what is ahead of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from workers.events import PriorityClass
from workers.scheduler.store import CLASSES, Stats


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits, with `load` = arrival rate x mean service time (in Erlangs)."""
    if servers < 1:
        raise ValueError("servers must be at least 1")
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    # Erlang B by its stable recurrence, then C from B.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    rho = load / servers
    return blocking / (1 - rho + rho * blocking)


def priority_waits(rates: Sequence[float], *, service_time: float, servers: int) -> list[float]:
    """Mean queueing wait of each class (highest first); math.inf where a class is overloaded."""
    if service_time <= 0:
        return [0.0 for _ in rates]
    capacity = servers / service_time
    base = erlang_c(servers, sum(rates) * service_time) / capacity
    waits = []
    above = 0.0
    for rate in rates:
        upto = above + rate / capacity
        waits.append(math.inf if upto >= 1 else base / ((1 - above) * (1 - upto)))
        above = upto
    return waits


def backlog_wait(ahead: int, *, free: int, servers: int, service_time: float) -> float:
    """Time until a slot is free for a request with `ahead` others before it (slots free at c/s per second)."""
    if ahead < free:
        return 0.0
    return (ahead - free + 1) * service_time / servers


def class_waits(stats: Stats, *, default_slots: int) -> dict[PriorityClass, float]:
    """The model's expected wait per class from the store's measured rates."""
    servers = max(1, stats.slots or default_slots)
    service = stats.service_time or 0.0
    waits = priority_waits([stats.arrivals[c] for c in CLASSES], service_time=service, servers=servers)
    return dict(zip(CLASSES, waits, strict=True))


def expected_wait(stats: Stats, *, priority: PriorityClass, ahead: int, default_slots: int) -> float:
    """What to tell a person whose request joined the queue with `ahead` others before it."""
    servers = max(1, stats.slots or default_slots)
    service = stats.service_time or 0.0
    known = backlog_wait(ahead, free=max(0, servers - stats.in_flight), servers=servers, service_time=service)
    model = class_waits(stats, default_slots=default_slots)[priority]
    return known if math.isinf(model) else max(known, model)
