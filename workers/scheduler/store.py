"""What the dispatch stage keeps: waiting lists per class and tenant, token counters, slots in use.

Two implementations share these semantics: `RedisStore` (Lua scripts, so every process that submits
or finishes work sees one consistent state, and a dying process loses nothing) and `MemoryStore` for
the single-process setup on Celery's in-process broker. The rules they both follow:

- `push` puts an event at the end of its tenant's list for its class. A tenant that had nothing
  waiting has its counter lifted to the lowest counter among waiting tenants (or to the last one
  served when nobody waits), so idle time is not banked as credit (the VTC "counter lift").
- `admit` fills free slots: the highest class with waiting work first (only interactive work may take
  the reserved slots), within it the tenant with the lowest counter, its oldest event. The tenant is
  charged its own mean tokens per request (else everyone's, else the configured guess) divided by
  its weight, and the event is recorded both as running (holding a slot) and as sending (not yet in
  Celery) until `sent` confirms the hand-over.
- `release` frees the slot once, replaces the charged estimate with the tokens really used, and
  updates the measured service time and tokens per request.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from workers.events import PriorityClass

# Highest first: the order `admit` looks at the classes.
CLASSES: tuple[PriorityClass, ...] = (PriorityClass.INTERACTIVE, PriorityClass.COMMANDS, PriorityClass.BATCH)
# Arrival rates decay with this time constant (seconds): recent traffic counts, an old burst fades.
RATE_TAU = 60.0
# Weight of the newest sample in the running means of service time and tokens per request.
EWMA_ALPHA = 0.1
MIN_WEIGHT = 0.01


@dataclass(frozen=True, slots=True)
class Waiting:
    """One event in the dispatch stage: enough to hand it to Celery and to charge its tenant."""

    key: str
    priority: PriorityClass
    tenant: str
    weight: float
    payload: dict[str, Any] = field(hash=False)

    def encode(self) -> str:
        return json.dumps(
            {
                "key": self.key,
                "priority": str(self.priority),
                "tenant": self.tenant,
                "weight": max(self.weight, MIN_WEIGHT),
                "payload": self.payload,
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, raw: str | bytes) -> Waiting:
        data = json.loads(raw)
        return cls(
            key=data["key"],
            priority=PriorityClass(data["priority"]),
            tenant=data["tenant"],
            weight=float(data["weight"]),
            payload=data["payload"],
        )


@dataclass(frozen=True, slots=True)
class Stats:
    """The measured state the wait estimate works from."""

    slots: int
    in_flight: int
    queued: dict[PriorityClass, int]
    # Arrivals per second per class, decayed over RATE_TAU.
    arrivals: dict[PriorityClass, float]
    # Mean seconds a request holds a slot (admission to release); None before the first release.
    service_time: float | None
    tokens_per_request: float | None


def decayed(rate: float, *, since: float, now: float) -> float:
    """An exponentially decayed event rate, as seen at `now`."""
    return rate * math.exp(-max(0.0, now - since) / RATE_TAU)


def bumped(rate: float, *, since: float, now: float) -> float:
    """The decayed rate after one more event at `now`."""
    return decayed(rate, since=since, now=now) + 1.0 / RATE_TAU


class Store(Protocol):
    def push(self, item: Waiting, *, now: float) -> int | None:
        """Queue `item`; return how many wait ahead of it in its class and higher ones, None if already held."""
        ...

    def admit(self, *, now: float, reserved: int, default_slots: int, tokens_default: float) -> list[Waiting]:
        """Take as many waiting events as free slots allow, in scheduling order."""
        ...

    def sent(self, key: str) -> None:
        """The admitted event is in Celery now; nothing to re-send if this process dies."""
        ...

    def release(self, key: str, *, tokens: int, now: float) -> bool:
        """Free the event's slot and settle its tokens; False if it held none (already released)."""
        ...

    def unsent(self, *, admitted_before: float) -> list[Waiting]:
        """Admitted events whose hand-over to Celery was never confirmed."""
        ...

    def running(self) -> dict[str, float]:
        """Keys holding a slot, with the time each was admitted."""
        ...

    def holds(self, keys: list[str]) -> set[str]:
        """The keys among `keys` that wait here or hold a slot."""
        ...

    def forget_idle(self, *, idle_before: float) -> int:
        """Drop the state of tenants idle since `idle_before` (nothing waiting or running); how many."""
        ...

    def set_slots(self, slots: int, *, reserved: int | None = None) -> None:
        """The admission limit, and (if given) how many of those slots only interactive work may take."""
        ...

    def heartbeat(self, who: str, *, general: int, interactive: int, until: float) -> None:
        """A worker process serves with `general` threads for any work and `interactive` for people only."""
        ...

    def threads(self, *, now: float) -> tuple[int, int]:
        """Worker threads of live processes: (for any work, for interactive work only)."""
        ...

    def lead(self, who: str, *, ttl: float) -> bool:
        """True if `who` holds (or now takes) the short lease for work one process should do at a time."""
        ...

    def stats(self, *, now: float) -> Stats: ...

    def counters(self) -> dict[str, float]:
        """Each tenant's virtual token counter (tokens served divided by weight, plus lifts)."""
        ...

    def clear(self) -> None:
        """Forget everything (tests and benchmarks)."""
        ...
