"""Who is answering an event right now, and where its answer is shown: fast state beside the SQL ledger.

The ledger (`processed_events`) says what happened to an event; this says which live worker holds it.
A lease is a key with a time to live, renewed by one keeper thread per process for every event the
process holds, so a worker busy in a long prefill keeps its lease as surely as one streaming tokens,
and a killed worker's lease lapses in one lease period. The keeper also keeps its process's short
"alive" mark fresh, and a lease whose owning process lost that mark counts as free at once: a
killed worker's events are taken over within `ALIVE_SECONDS`, not a whole lease period. The answer
message's platform handle (a Slack `ts`, a Discord message id) is kept here too, so a worker taking
an event over edits that message instead of posting a second one.

Everything here can be lost (Redis restarted empty) without losing an event: a live worker puts its
lease back at its next renewal, and the reconciler takes over only leases missing for a whole lease
period. What fences a worker that lost its event is the ledger's attempt number, checked when the
answer is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

# The answer's handle outlives the lease: an event failed for an engine outage is answered later
# in the message that apologised.
REPLY_TTL_SECONDS = 86_400
# A worker process's alive mark lasts this long and is refreshed every quarter of it; a process
# that stalls for longer (or dies) loses its leases to the next attempt, which the ledger's fence
# makes safe.
ALIVE_SECONDS = 3.0


def process_of(owner: str) -> str:
    """The process part of a lease owner (`host:pid:token:thread` -> `host:pid:token`)."""
    return owner.rpartition(":")[0] or owner


# A stop asked for an event still waiting for its turn holds until the worker reaches it.
STOP_TTL_SECONDS = 3_600


@dataclass(frozen=True, slots=True)
class Acquired:
    # None: the lease is ours. Else the seconds left on another live worker's lease.
    wait: float | None
    # The answer message an earlier attempt (or a "queued" note) opened for this event.
    reply: str | None = None


class Leases(Protocol):
    def acquire(self, key: str, owner: str, *, ttl: float) -> Acquired:
        """Take the lease (one round trip), free or held by a dead process, and read the answer
        message's handle."""
        ...

    def renew(self, held: dict[str, str], *, ttl: float) -> set[str]:
        """Extend each lease in `held` (key -> owner), putting back any that vanished, and mark the
        owners' processes alive; return the keys another owner holds now (they were taken over)."""
        ...

    def release(self, key: str, owner: str, *, keep_reply: bool = False) -> None:
        """Drop our lease (and, unless kept for a later answer, the reply handle)."""
        ...

    def live(self, keys: Iterable[str]) -> set[str]:
        """The keys whose lease a live worker process holds."""
        ...

    def set_reply(self, key: str, ref: str, *, only_new: bool = False) -> bool:
        """Remember the answer message's handle; with `only_new`, not over an existing one."""
        ...

    def reply(self, key: str) -> str | None: ...

    def stop(self, key: str) -> None:
        """Ask whichever worker answers `key` (now or later) to stop and keep what it has."""
        ...

    def stopping(self, key: str) -> bool:
        """Whether someone asked to stop `key`'s answer."""
        ...

    def stopped_among(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` someone asked to stop, in one look."""
        ...

    def epoch(self) -> float:
        """Since when this store has kept leases (a Redis restarted empty starts a new epoch)."""
        ...


# KEYS: the leases, then the owners' processes' alive marks. ARGV: lease ms, alive ms, the owners.
_RENEW = """
local leases = #ARGV - 2
local owner_lost = {}
for i = 1, leases do
  local key, owner = KEYS[i], ARGV[i + 2]
  local now = redis.call('GET', key)
  if now == false then
    redis.call('SET', key, owner, 'PX', ARGV[1])
  elseif now == owner then
    redis.call('PEXPIRE', key, ARGV[1])
  else
    owner_lost[#owner_lost + 1] = key
  end
end
for i = leases + 1, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[2])
end
return owner_lost
"""

# KEYS: the lease, the reply handle, our alive mark. ARGV: owner, lease ms, alive ms, alive prefix.
# The holder's alive mark is read by a name built here: LLMOS runs on one Redis, not a cluster.
_ACQUIRE = """
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
local reply = redis.call('GET', KEYS[2])
local holder = redis.call('GET', KEYS[1])
local free = holder == false or holder == ARGV[1]
if not free then
  local process = string.match(holder, '^(.*):[^:]*$') or holder
  free = redis.call('EXISTS', ARGV[4] .. process) == 0
end
if free then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, reply}
end
return {0, reply, redis.call('PTTL', KEYS[1])}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] == '1' then redis.call('DEL', KEYS[2]) end
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLeases:
    def __init__(self, client: redis.Redis, *, prefix: str = "") -> None:
        self._redis = client
        self._lease = f"{prefix}llmos:lease:"
        self._reply = f"{prefix}llmos:replyref:"
        self._epoch = f"{prefix}llmos:lease-epoch"
        self._alive = f"{prefix}llmos:alive:"
        self._acquire = client.register_script(_ACQUIRE)
        self._stop = f"{prefix}llmos:stop:"
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: str, owner: str, *, ttl: float) -> Acquired:
        keys = [self._lease + key, self._reply + key, self._alive + process_of(owner)]
        got = self._acquire(keys=keys, args=[owner, _ms(ttl), _ms(ALIVE_SECONDS), self._alive])
        ref = None if got[1] is None else _text(got[1])
        if int(got[0]):
            return Acquired(None, ref)
        left = int(got[2])
        return Acquired(max(0.0, left / 1000) if left > 0 else 0.0, ref)

    def renew(self, held: dict[str, str], *, ttl: float) -> set[str]:
        if not held:
            return set()
        processes = sorted({process_of(owner) for owner in held.values()})
        keys = [self._lease + key for key in held] + [self._alive + process for process in processes]
        lost = self._renew(keys=keys, args=[_ms(ttl), _ms(ALIVE_SECONDS), *held.values()])
        return {_text(name).removeprefix(self._lease) for name in lost}

    def release(self, key: str, owner: str, *, keep_reply: bool = False) -> None:
        self._release(keys=[self._lease + key, self._reply + key], args=[owner, "0" if keep_reply else "1"])

    def live(self, keys: Iterable[str]) -> set[str]:
        wanted = list(keys)
        if not wanted:
            return set()
        found = self._redis.mget([self._lease + key for key in wanted])
        holders = {key: process_of(_text(holder)) for key, holder in zip(wanted, found, strict=True) if holder}
        processes = sorted(set(holders.values()))
        if not processes:
            return set()
        marks = self._redis.mget([self._alive + process for process in processes])
        alive = {process for process, mark in zip(processes, marks, strict=True) if mark is not None}
        return {key for key, process in holders.items() if process in alive}

    def set_reply(self, key: str, ref: str, *, only_new: bool = False) -> bool:
        return bool(self._redis.set(self._reply + key, ref, ex=REPLY_TTL_SECONDS, nx=only_new))

    def reply(self, key: str) -> str | None:
        value = self._redis.get(self._reply + key)
        return None if value is None else _text(value)

    def stop(self, key: str) -> None:
        self._redis.set(self._stop + key, "1", ex=STOP_TTL_SECONDS)

    def stopping(self, key: str) -> bool:
        return bool(self._redis.exists(self._stop + key))

    def stopped_among(self, keys: Iterable[str]) -> set[str]:
        wanted = list(keys)
        if not wanted:
            return set()
        found = self._redis.mget([self._stop + key for key in wanted])
        return {key for key, value in zip(wanted, found, strict=True) if value is not None}

    def epoch(self) -> float:
        self._redis.set(self._epoch, repr(time.time()), nx=True)
        return float(_text(self._redis.get(self._epoch) or repr(time.time())))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class MemoryLeases:
    """The same, for the single process on Celery's in-process broker: it dies with the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[str, tuple[str, float]] = {}
        self._replies: dict[str, tuple[str, float]] = {}
        self._stops: dict[str, float] = {}
        self._born = time.time()

    def acquire(self, key: str, owner: str, *, ttl: float) -> Acquired:
        now = time.monotonic()
        with self._lock:
            found = self._replies.get(key)
            reply = found[0] if found is not None and found[1] > now else None
            holder = self._leases.get(key)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return Acquired(holder[1] - now, reply)
            self._leases[key] = (owner, now + ttl)
            return Acquired(None, reply)

    def renew(self, held: dict[str, str], *, ttl: float) -> set[str]:
        now = time.monotonic()
        lost = set()
        with self._lock:
            for key, owner in held.items():
                holder = self._leases.get(key)
                if holder is not None and holder[0] != owner and holder[1] > now:
                    lost.add(key)
                else:
                    self._leases[key] = (owner, now + ttl)
        return lost

    def release(self, key: str, owner: str, *, keep_reply: bool = False) -> None:
        with self._lock:
            holder = self._leases.get(key)
            if holder is not None and holder[0] == owner:
                del self._leases[key]
            if not keep_reply:
                self._replies.pop(key, None)

    def live(self, keys: Iterable[str]) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {key for key in keys if self._leases.get(key, ("", 0.0))[1] > now}

    def set_reply(self, key: str, ref: str, *, only_new: bool = False) -> bool:
        now = time.monotonic()
        with self._lock:
            current = self._replies.get(key)
            if only_new and current is not None and current[1] > now:
                return False
            self._replies[key] = (ref, now + REPLY_TTL_SECONDS)
            # Forget handles of answers long finished, so the map does not grow with the process's life.
            if len(self._replies) > 10_000:
                for old in [k for k, (_, until) in self._replies.items() if until <= now]:
                    del self._replies[old]
            return True

    def reply(self, key: str) -> str | None:
        with self._lock:
            found = self._replies.get(key)
        return found[0] if found is not None and found[1] > time.monotonic() else None

    def stop(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            for old in [k for k, until in self._stops.items() if until <= now]:
                del self._stops[old]
            self._stops[key] = now + STOP_TTL_SECONDS

    def stopping(self, key: str) -> bool:
        with self._lock:
            return self._stops.get(key, 0.0) > time.monotonic()

    def stopped_among(self, keys: Iterable[str]) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {key for key in keys if self._stops.get(key, 0.0) > now}

    def epoch(self) -> float:
        return self._born


class LeaseKeeper:
    """One thread per worker process that renews the leases of every event the process holds.

    A lease whose renewal fails for a whole lease period (the store unreachable) counts as lost to
    this worker: it stops posting, and the ledger's fence keeps it from storing.
    """

    def __init__(self, leases: Leases, *, ttl: float) -> None:
        self._leases = leases
        self._ttl = ttl
        self._held: dict[str, str] = {}
        self._renewed: dict[str, float] = {}
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ttl(self) -> float:
        return self._ttl

    def hold(self, key: str, owner: str) -> None:
        with self._lock:
            self._held[key] = owner
            self._renewed[key] = time.monotonic()
            self._lost.discard(key)
        self._ensure_thread()

    def drop(self, key: str) -> None:
        with self._lock:
            self._held.pop(key, None)
            self._renewed.pop(key, None)
            self._lost.discard(key)

    def holds(self, key: str) -> bool:
        """True while this process may still act for `key` (not taken over, renewed within the lease)."""
        with self._lock:
            if key in self._lost or key not in self._held:
                return False
            return time.monotonic() - self._renewed[key] < self._ttl

    def renew_now(self) -> None:
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        started = time.monotonic()
        try:
            lost = self._leases.renew(held, ttl=self._ttl)
        except Exception:
            log.warning("could not renew %d event leases; trying again shortly", len(held), exc_info=True)
            return
        with self._lock:
            for key in held:
                if key in lost:
                    self._lost.add(key)
                elif key in self._renewed:
                    self._renewed[key] = started

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        # Often enough for the process's alive mark too (renewing a lease early costs nothing).
        while not self._stop.wait(min(self._ttl, ALIVE_SECONDS) / 4):
            self.renew_now()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
