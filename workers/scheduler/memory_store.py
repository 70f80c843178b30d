"""The dispatch stage's state in this process, for the single-process setup on Celery's in-process broker.

Same rules as `RedisStore` (see `store`), under one lock; it lives and dies with the process, like the
in-process broker's queues.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from workers.events import PriorityClass
from workers.scheduler.store import CLASSES, EWMA_ALPHA, Stats, Waiting, bumped, decayed


@dataclass
class _Running:
    item: Waiting
    est: float
    at: float
    sending: bool = True


@dataclass
class _State:
    lists: dict[tuple[PriorityClass, str], deque[Waiting]] = field(default_factory=dict)
    counters: dict[str, float] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    running: dict[str, _Running] = field(default_factory=dict)
    slots: int | None = None
    reserved: int | None = None
    workers: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    last: float = 0.0
    rates: dict[PriorityClass, tuple[float, float]] = field(default_factory=dict)
    service: float | None = None
    tokens: float | None = None
    own_tokens: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._s = _State()

    def _ready(self, priority: PriorityClass) -> list[str]:
        return [tenant for (c, tenant), items in self._s.lists.items() if c is priority and items]

    def push(self, item: Waiting, *, now: float) -> int | None:
        with self._lock:
            s = self._s
            if item.key in s.keys or item.key in s.running:
                return None
            counter = s.counters.get(item.tenant, 0.0)
            if s.waiting.get(item.tenant, 0) <= 0:
                waiting = [s.counters[t] for c in CLASSES for t in self._ready(c)]
                counter = max(counter, min(waiting) if waiting else s.last)
                s.counters[item.tenant] = counter
            s.lists.setdefault((item.priority, item.tenant), deque()).append(item)
            s.keys.add(item.key)
            s.waiting[item.tenant] = s.waiting.get(item.tenant, 0) + 1
            s.seen[item.tenant] = now
            rate, since = s.rates.get(item.priority, (0.0, now))
            s.rates[item.priority] = (bumped(rate, since=since, now=now), now)
            ahead = 0
            for priority in CLASSES:
                ahead += sum(len(items) for (c, _), items in s.lists.items() if c is priority)
                if priority is item.priority:
                    break
            return ahead - 1

    def _next(self, running: int, limit: int, reserved: int) -> Waiting | None:
        for index, priority in enumerate(CLASSES):
            if index and running >= limit - reserved:
                break
            tenants = self._ready(priority)
            if tenants:
                tenant = min(tenants, key=lambda t: (self._s.counters.get(t, 0.0), t))
                items = self._s.lists[(priority, tenant)]
                item = items.popleft()
                if not items:
                    del self._s.lists[(priority, tenant)]
                return item
        return None

    def admit(self, *, now: float, reserved: int, default_slots: int, tokens_default: float) -> list[Waiting]:
        with self._lock:
            s = self._s
            limit = s.slots if s.slots is not None else default_slots
            reserved = min(s.reserved if s.reserved is not None else reserved, limit - 1)
            typical = s.tokens if s.tokens is not None else tokens_default
            out: list[Waiting] = []
            while len(s.running) < limit:
                item = self._next(len(s.running), limit, reserved)
                if item is None:
                    break
                s.keys.discard(item.key)
                s.waiting[item.tenant] -= 1
                est = s.own_tokens.get(item.tenant, typical)
                s.counters[item.tenant] = s.counters.get(item.tenant, 0.0) + est / item.weight
                s.last = s.counters[item.tenant]
                s.running[item.key] = _Running(item=item, est=est, at=now)
                out.append(item)
            return out

    def sent(self, key: str) -> None:
        with self._lock:
            if key in self._s.running:
                self._s.running[key].sending = False

    def release(self, key: str, *, tokens: int, now: float) -> bool:
        with self._lock:
            s = self._s
            held = s.running.pop(key, None)
            if held is None:
                return False
            tenant = held.item.tenant
            s.counters[tenant] = s.counters.get(tenant, 0.0) + (tokens - held.est) / held.item.weight
            if tokens > 0:
                s.tokens = tokens if s.tokens is None else s.tokens + EWMA_ALPHA * (tokens - s.tokens)
                own = s.own_tokens.get(tenant, tokens)
                s.own_tokens[tenant] = own + EWMA_ALPHA * (tokens - own)
            took = max(0.0, now - held.at)
            s.service = took if s.service is None else s.service + EWMA_ALPHA * (took - s.service)
            s.seen[tenant] = now
            return True

    def forget_idle(self, *, idle_before: float) -> int:
        with self._lock:
            s = self._s
            busy = {r.item.tenant for r in s.running.values()}
            idle = [t for t, at in s.seen.items() if at < idle_before and s.waiting.get(t, 0) <= 0 and t not in busy]
            for tenant in idle:
                for table in (s.counters, s.waiting, s.own_tokens, s.seen):
                    table.pop(tenant, None)
                for key in [k for k in s.lists if k[1] == tenant]:
                    del s.lists[key]
            return len(idle)

    def unsent(self, *, admitted_before: float) -> list[Waiting]:
        with self._lock:
            return [r.item for r in self._s.running.values() if r.sending and r.at < admitted_before]

    def running(self) -> dict[str, float]:
        with self._lock:
            return {key: r.at for key, r in self._s.running.items()}

    def holds(self, keys: list[str]) -> set[str]:
        with self._lock:
            return {key for key in keys if key in self._s.keys or key in self._s.running}

    def set_slots(self, slots: int, *, reserved: int | None = None) -> None:
        with self._lock:
            self._s.slots = int(slots)
            if reserved is not None:
                self._s.reserved = int(reserved)

    def heartbeat(self, who: str, *, general: int, interactive: int, until: float) -> None:
        with self._lock:
            self._s.workers[who] = (general, interactive, until)

    def threads(self, *, now: float) -> tuple[int, int]:
        with self._lock:
            live = [(g, i) for g, i, until in self._s.workers.values() if until >= now]
            return sum(g for g, _ in live), sum(i for _, i in live)

    def lead(self, who: str, *, ttl: float) -> bool:
        return True  # one process holds this store

    def stats(self, *, now: float) -> Stats:
        with self._lock:
            s = self._s
            queued = {c: sum(len(items) for (p, _), items in s.lists.items() if p is c) for c in CLASSES}
            arrivals = {}
            for priority in CLASSES:
                rate, since = s.rates.get(priority, (0.0, now))
                arrivals[priority] = decayed(rate, since=since, now=now)
            return Stats(
                slots=s.slots or 0,
                in_flight=len(s.running),
                queued=queued,
                arrivals=arrivals,
                service_time=s.service,
                tokens_per_request=s.tokens,
            )

    def counters(self) -> dict[str, float]:
        with self._lock:
            return dict(self._s.counters)

    def clear(self) -> None:
        with self._lock:
            self._s = _State()
