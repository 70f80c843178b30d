"""The reply bus: how a worker streams an answer to a client that waits on it (terminal, web chat).

On Redis each answer is a Redis stream (`llmos:reply:<event key>`), read with XREAD so a client that
subscribes late still sees every piece; in-process it is a list guarded by a condition variable.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

STREAM_TTL_SECONDS = 3600
STREAM_MAX_ITEMS = 20_000


class ReplyBus(Protocol):
    def publish(self, stream: str, item: dict[str, Any]) -> None: ...

    def read(self, stream: str, *, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        """Items after cursor `after` ("0" for all), waiting up to `timeout` seconds for the first."""
        ...


class RedisReplyBus:
    def __init__(self, client: redis.Redis, *, prefix: str = "") -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, stream: str) -> str:
        return f"{self._prefix}llmos:reply:{stream}"

    def publish(self, stream: str, item: dict[str, Any]) -> None:
        key = self._key(stream)
        # No MULTI/EXEC: the two commands need no atomicity, and this runs once per streamed token.
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(key, {"item": json.dumps(item)}, maxlen=STREAM_MAX_ITEMS, approximate=True)
        pipe.expire(key, STREAM_TTL_SECONDS)
        pipe.execute()

    def read(self, stream: str, *, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        result: Any = self._redis.xread({self._key(stream): after}, block=max(1, int(timeout * 1000)), count=500)
        items: list[tuple[str, dict[str, Any]]] = []
        for _key, entries in result or []:
            for entry_id, fields in entries:
                raw = fields.get(b"item") or fields.get("item")
                ident = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                items.append((ident, json.loads(raw)))
        return items


class MemoryReplyBus:
    def __init__(self) -> None:
        self._streams: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._changed = threading.Condition()

    def publish(self, stream: str, item: dict[str, Any]) -> None:
        with self._changed:
            now = time.monotonic()
            for name in [n for n, (at, _) in self._streams.items() if now - at > STREAM_TTL_SECONDS]:
                del self._streams[name]
            _, items = self._streams.get(stream, (now, []))
            items.append(item)
            self._streams[stream] = (now, items)
            self._changed.notify_all()

    def read(self, stream: str, *, after: str, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        start = int(after) if after.isdigit() else 0
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                items = self._streams.get(stream, (0.0, []))[1]
                if len(items) > start:
                    return [(str(i + 1), item) for i, item in enumerate(items[start:], start)]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._changed.wait(remaining)


# How long a follower waits for an unreachable bus (Redis restarting) before it ends the stream.
BUS_PATIENCE = 10.0
LOST = "The connection to LLMOS was lost while the answer streamed. It is saved: reload to see it."


def follow(
    bus: ReplyBus,
    stream: str,
    *,
    idle_timeout: float,
    patience: float = BUS_PATIENCE,
    recovers: Callable[[], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield a stream's items until its `done` or `error` item; give up after `idle_timeout` of silence.

    If the bus itself breaks for longer than `patience`, the stream ends with an `error` item
    saying so, never a hang: the answer is still stored by the worker. With `recovers`, asked at an
    `error` and at each idle timeout after one, an apology for an answer that will still come (the
    engine was down; the event is sent again once it answers) goes on as a `status` item, and the
    stream waits for the answer.
    """
    cursor = "0"
    last = time.monotonic()
    broken: float | None = None
    recovering = False
    while True:
        # A failing read can itself take seconds (the client's own retries): the bus counts as broken from
        # when the first failing read began, so `patience` is what the follower really waits.
        began = time.monotonic()
        try:
            items = bus.read(stream, after=cursor, timeout=1.0)
            broken = None
        except redis.RedisError:
            broken = broken or began
            if time.monotonic() - broken > patience:
                log.warning("reply stream %s: the bus stayed unreachable; ending the stream", stream)
                yield {"type": "error", "text": LOST}
                return
            time.sleep(0.5)
            continue
        if not items:
            if time.monotonic() - last > idle_timeout:
                if not (recovering and recovers is not None and recovers()):
                    raise TimeoutError(f"no reply for {idle_timeout:.0f}s")
                last = time.monotonic()
            continue
        last = time.monotonic()
        for ident, item in items:
            cursor = ident
            if item.get("type") == "error" and recovers is not None and recovers():
                recovering = True
                yield {"type": "status", "text": item.get("text", "")}
                continue
            yield item
            if item.get("type") in {"done", "error"}:
                return


class BusSink:
    """The reply sink for clients that follow the bus: the terminal and the web chat.

    A bus that breaks mid-answer (Redis restarting) costs the follower some pieces, never the answer:
    the answer is stored either way, and the follower ends its stream with an error it can show.
    """

    def __init__(self, bus: ReplyBus, stream: str) -> None:
        self._bus = bus
        self._stream = stream

    def _publish(self, item: dict[str, Any], *, patience: float = 0.0) -> None:
        deadline = time.monotonic() + patience
        while True:
            try:
                self._bus.publish(self._stream, item)
                return
            except redis.RedisError:
                if time.monotonic() >= deadline:
                    log.warning("reply stream %s: could not publish a %s item", self._stream, item.get("type"))
                    return
                time.sleep(0.25)

    def start(self, *, resume_ref: str | None) -> str:
        # A resumed answer starts over: the client drops what the dead worker had shown.
        self._publish({"type": "reset" if resume_ref else "start"}, patience=BUS_PATIENCE)
        return self._stream

    def status(self, text: str) -> None:
        self._publish({"type": "status", "text": text})

    def append(self, text: str) -> None:
        self._publish({"type": "delta", "text": text})

    def finish(self, text: str) -> None:
        self._publish({"type": "done", "text": text}, patience=BUS_PATIENCE)

    def fail(self, message: str) -> None:
        self._publish({"type": "error", "text": message}, patience=BUS_PATIENCE)
