"""The dispatch stage's state in Redis: each operation is one Lua script, so it is atomic across processes.

Keys, all under one prefix (`llmos:sched:` by default):
  wait:<class>:<tenant>  list of encoded `Waiting` events, oldest first
  ready:<class>          sorted set of tenants with events waiting in that class, scored by counter
  vtc                    hash tenant -> virtual token counter
  waiting                hash tenant -> events waiting in all classes (0 means the tenant is idle)
  queued                 hash class -> events waiting
  keys                   hash event key -> class, for the events waiting (a second push is ignored)
  running                hash event key -> {tenant, weight, est, at}: the slots in use
  tokens                 hash tenant -> running mean of tokens per request (the charge at admission)
  sending                hash event key -> encoded event, admitted but not yet confirmed in Celery
  slots, reserved        the admission limit and the slots only interactive work may take (set by the sweeper)
  workers                hash process -> {general, interactive, until}: worker threads, kept fresh by heartbeats
  last                   the counter of the tenant admitted last (the lift when nobody waits)
  rate:<class>           hash r, t: decayed arrival rate per class
  stats                  hash service, tokens: running means over all released requests
  seen                   hash tenant -> when it last pushed or released (idle tenants' state is forgotten)
"""

from __future__ import annotations

import json
from typing import Any

import redis

from workers.scheduler.store import CLASSES, EWMA_ALPHA, RATE_TAU, Stats, Waiting, decayed

_CLASSES_LUA = "local CLASSES = {" + ", ".join(f"'{c}'" for c in CLASSES) + "}\n"

_PUSH = (
    _CLASSES_LUA
    + """
local p, key, class, tenant, entry = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, tau = tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('HEXISTS', p .. 'keys', key) == 1 or redis.call('HEXISTS', p .. 'running', key) == 1 then
  return -1
end
local counter = tonumber(redis.call('HGET', p .. 'vtc', tenant) or '0')
if tonumber(redis.call('HGET', p .. 'waiting', tenant) or '0') <= 0 then
  local floor = nil
  for _, c in ipairs(CLASSES) do
    local low = redis.call('ZRANGE', p .. 'ready:' .. c, 0, 0, 'WITHSCORES')
    if #low > 0 and (floor == nil or tonumber(low[2]) < floor) then floor = tonumber(low[2]) end
  end
  if floor == nil then floor = tonumber(redis.call('GET', p .. 'last') or '0') end
  if floor > counter then
    counter = floor
    redis.call('HSET', p .. 'vtc', tenant, counter)
  end
end
redis.call('RPUSH', p .. 'wait:' .. class .. ':' .. tenant, entry)
redis.call('HSET', p .. 'keys', key, class)
redis.call('HINCRBY', p .. 'waiting', tenant, 1)
redis.call('HSET', p .. 'seen', tenant, ARGV[6])
redis.call('HINCRBY', p .. 'queued', class, 1)
redis.call('ZADD', p .. 'ready:' .. class, counter, tenant)
local rate = p .. 'rate:' .. class
local r = tonumber(redis.call('HGET', rate, 'r') or '0')
local t = tonumber(redis.call('HGET', rate, 't') or ARGV[6])
redis.call('HSET', rate, 'r', r * math.exp(-math.max(0, now - t) / tau) + 1 / tau, 't', ARGV[6])
local ahead = 0
for _, c in ipairs(CLASSES) do
  ahead = ahead + tonumber(redis.call('HGET', p .. 'queued', c) or '0')
  if c == class then break end
end
return ahead - 1
"""
)

_ADMIT = (
    _CLASSES_LUA
    + """
local p, now = ARGV[1], tonumber(ARGV[2])
local reserved = tonumber(redis.call('GET', p .. 'reserved') or ARGV[3])
local limit = tonumber(redis.call('GET', p .. 'slots') or ARGV[4])
local typical = tonumber(redis.call('HGET', p .. 'stats', 'tokens') or ARGV[5])
if reserved > limit - 1 then reserved = limit - 1 end
local running = redis.call('HLEN', p .. 'running')
local out = {}
while running < limit do
  local class, tenant = nil, nil
  for i, c in ipairs(CLASSES) do
    if i == 1 or running < limit - reserved then
      local low = redis.call('ZRANGE', p .. 'ready:' .. c, 0, 0)
      if #low > 0 then
        class, tenant = c, low[1]
        break
      end
    end
  end
  if class == nil then break end
  local list = p .. 'wait:' .. class .. ':' .. tenant
  local entry = redis.call('LPOP', list)
  if redis.call('LLEN', list) == 0 then redis.call('ZREM', p .. 'ready:' .. class, tenant) end
  redis.call('HINCRBY', p .. 'waiting', tenant, -1)
  redis.call('HINCRBY', p .. 'queued', class, -1)
  local item = cjson.decode(entry)
  redis.call('HDEL', p .. 'keys', item.key)
  local est = tonumber(redis.call('HGET', p .. 'tokens', tenant) or typical)
  local counter = tonumber(redis.call('HINCRBYFLOAT', p .. 'vtc', tenant, est / item.weight))
  for _, c in ipairs(CLASSES) do redis.call('ZADD', p .. 'ready:' .. c, 'XX', counter, tenant) end
  redis.call('SET', p .. 'last', counter)
  local meta = cjson.encode({tenant = tenant, weight = item.weight, est = est, at = now})
  redis.call('HSET', p .. 'running', item.key, meta)
  redis.call('HSET', p .. 'sending', item.key, entry)
  running = running + 1
  out[#out + 1] = entry
end
return out
"""
)

_RELEASE = (
    _CLASSES_LUA
    + """
local p, key = ARGV[1], ARGV[2]
local tokens, now, alpha = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local meta = redis.call('HGET', p .. 'running', key)
if not meta then return 0 end
redis.call('HDEL', p .. 'running', key)
redis.call('HDEL', p .. 'sending', key)
local m = cjson.decode(meta)
local delta = (tokens - m.est) / m.weight
if delta ~= 0 then
  local counter = tonumber(redis.call('HINCRBYFLOAT', p .. 'vtc', m.tenant, delta))
  for _, c in ipairs(CLASSES) do redis.call('ZADD', p .. 'ready:' .. c, 'XX', counter, m.tenant) end
end
local s = p .. 'stats'
local function mean(field, value)
  local old = tonumber(redis.call('HGET', s, field) or '')
  if old == nil then old = value end
  redis.call('HSET', s, field, old + alpha * (value - old))
end
if tokens > 0 then
  mean('tokens', tokens)
  local own = tonumber(redis.call('HGET', p .. 'tokens', m.tenant) or tokens)
  redis.call('HSET', p .. 'tokens', m.tenant, own + alpha * (tokens - own))
end
mean('service', math.max(0, now - m.at))
redis.call('HSET', p .. 'seen', m.tenant, ARGV[4])
return 1
"""
)


# Forget tenants idle since ARGV[2] with nothing waiting and nothing running: a tenant that comes back is
# lifted to the lowest waiting counter anyway (push), so its old counter and means carry no fairness.
_FORGET = (
    _CLASSES_LUA
    + """
local p, before = ARGV[1], tonumber(ARGV[2])
local busy = {}
local running = redis.call('HVALS', p .. 'running')
for _, meta in ipairs(running) do busy[cjson.decode(meta).tenant] = true end
local seen = redis.call('HGETALL', p .. 'seen')
local gone = 0
for i = 1, #seen, 2 do
  local tenant, at = seen[i], tonumber(seen[i + 1])
  if at < before and not busy[tenant] and tonumber(redis.call('HGET', p .. 'waiting', tenant) or '0') <= 0 then
    redis.call('HDEL', p .. 'vtc', tenant)
    redis.call('HDEL', p .. 'waiting', tenant)
    redis.call('HDEL', p .. 'tokens', tenant)
    redis.call('HDEL', p .. 'seen', tenant)
    for _, c in ipairs(CLASSES) do redis.call('ZREM', p .. 'ready:' .. c, tenant) end
    gone = gone + 1
  end
end
return gone
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "llmos:sched:") -> None:
        self._redis = client
        self._prefix = prefix
        self._push = client.register_script(_PUSH)
        self._admit = client.register_script(_ADMIT)
        self._release = client.register_script(_RELEASE)
        self._forget = client.register_script(_FORGET)

    def push(self, item: Waiting, *, now: float) -> int | None:
        args = [self._prefix, item.key, str(item.priority), item.tenant, item.encode(), repr(now), repr(RATE_TAU)]
        ahead = int(self._push(args=args))
        return None if ahead < 0 else ahead

    def admit(self, *, now: float, reserved: int, default_slots: int, tokens_default: float) -> list[Waiting]:
        args = [self._prefix, repr(now), str(reserved), str(default_slots), repr(float(tokens_default))]
        return [Waiting.decode(raw) for raw in self._admit(args=args)]

    def sent(self, key: str) -> None:
        self._redis.hdel(self._prefix + "sending", key)

    def release(self, key: str, *, tokens: int, now: float) -> bool:
        return bool(self._release(args=[self._prefix, key, str(int(tokens)), repr(now), repr(EWMA_ALPHA)]))

    def unsent(self, *, admitted_before: float) -> list[Waiting]:
        sending: dict[Any, Any] = self._redis.hgetall(self._prefix + "sending")
        if not sending:
            return []
        keys = list(sending)
        metas = self._redis.hmget(self._prefix + "running", keys)
        stale = []
        for key, meta in zip(keys, metas, strict=True):
            if meta is None or _admitted_at(meta) < admitted_before:
                stale.append(Waiting.decode(sending[key]))
        return stale

    def running(self) -> dict[str, float]:
        found: dict[Any, Any] = self._redis.hgetall(self._prefix + "running")
        return {_text(key): _admitted_at(meta) for key, meta in found.items()}

    def forget_idle(self, *, idle_before: float) -> int:
        return int(self._forget(args=[self._prefix, repr(idle_before)]))

    def holds(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(self._prefix + "keys", keys)
        pipe.hmget(self._prefix + "running", keys)
        waiting, running = pipe.execute()
        return {k for k, w, r in zip(keys, waiting, running, strict=True) if w is not None or r is not None}

    def set_slots(self, slots: int, *, reserved: int | None = None) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self._prefix + "slots", int(slots))
        if reserved is not None:
            pipe.set(self._prefix + "reserved", int(reserved))
        pipe.execute()

    def heartbeat(self, who: str, *, general: int, interactive: int, until: float) -> None:
        beat = json.dumps({"general": general, "interactive": interactive, "until": until})
        self._redis.hset(self._prefix + "workers", who, beat)

    def threads(self, *, now: float) -> tuple[int, int]:
        key = self._prefix + "workers"
        found: dict[Any, Any] = self._redis.hgetall(key)
        general = interactive = 0
        for who, raw in found.items():
            beat = json.loads(raw)
            if beat["until"] < now:
                self._redis.hdel(key, who)  # a process that stopped beating is gone
                continue
            general += int(beat["general"])
            interactive += int(beat["interactive"])
        return general, interactive

    def lead(self, who: str, *, ttl: float) -> bool:
        key, millis = self._prefix + "lead", max(1, int(ttl * 1000))
        if self._redis.set(key, who, nx=True, px=millis):
            return True
        if _text(self._redis.get(key) or b"") == who:
            self._redis.pexpire(key, millis)
            return True
        return False

    def stats(self, *, now: float) -> Stats:
        p = self._prefix
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(p + "slots")
        pipe.hlen(p + "running")
        pipe.hgetall(p + "queued")
        pipe.hgetall(p + "stats")
        for priority in CLASSES:
            pipe.hgetall(f"{p}rate:{priority}")
        slots, in_flight, queued, means, *rates = pipe.execute()
        queued = {_text(k): int(v) for k, v in queued.items()}
        means = {_text(k): float(v) for k, v in means.items()}
        arrivals = {}
        for priority, raw in zip(CLASSES, rates, strict=True):
            rate = {_text(k): float(v) for k, v in raw.items()}
            arrivals[priority] = decayed(rate.get("r", 0.0), since=rate.get("t", now), now=now)
        return Stats(
            slots=int(slots) if slots is not None else 0,
            in_flight=int(in_flight),
            queued={c: max(0, queued.get(str(c), 0)) for c in CLASSES},
            arrivals=arrivals,
            service_time=means.get("service"),
            tokens_per_request=means.get("tokens"),
        )

    def counters(self) -> dict[str, float]:
        found: dict[Any, Any] = self._redis.hgetall(self._prefix + "vtc")
        return {_text(k): float(v) for k, v in found.items()}

    def clear(self) -> None:
        keys = list(self._redis.scan_iter(match=self._prefix + "*", count=500))
        if keys:
            self._redis.delete(*keys)


def _admitted_at(meta: Any) -> float:
    return float(json.loads(meta)["at"])
