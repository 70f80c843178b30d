"""One engine in front of several replicas of several models.

A conversation sticks to one replica, so the replica's prefix cache already holds everything but
the newest turn. The choice is rendezvous hashing on the request's affinity key: each conversation
ranks the replicas in its own fixed order and uses the first healthy one. When that replica fails,
only its conversations move (each to its own second choice); a watcher probes the failed replica
and, once it answers again, its conversations come back. Adding or removing a replica moves only
the conversations that rank it first.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from engine.base import (
    ChatMessage,
    ChatRequest,
    Engine,
    EngineBadRequest,
    EngineError,
    EngineRateLimited,
    EngineUnavailable,
    Health,
    StreamChunk,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False)
class Replica:
    model: str
    url: str
    engine: Engine
    down_until: float = 0.0  # monotonic time of the next probe while down; 0.0 while up
    failures: int = 0
    reason: str = ""

    @property
    def up(self) -> bool:
        return self.failures == 0


def rank(key: str, replicas: Sequence[Replica]) -> list[Replica]:
    """The replicas in `key`'s own order of preference (highest random weight first)."""

    def weight(replica: Replica) -> int:
        digest = hashlib.blake2b(f"{key}\0{replica.url}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    return sorted(replicas, key=weight, reverse=True)


def affinity_key(request: ChatRequest) -> str:
    """The conversation key; without one, the prompt's opening (which a follow-up repeats)."""
    if request.affinity:
        return request.affinity
    if request.user:
        return request.user
    return "\0".join(m.content for m in request.messages[:2])


class ReplicaRouter:
    def __init__(
        self,
        *,
        endpoints: Mapping[str, Sequence[str]],
        make_engine: Callable[[str, str], Engine],
        default_model: str | None = None,
        retries: int = 3,
        retry_backoff: float = 0.5,
        recheck: float = 2.0,
        recheck_max: float = 30.0,
    ) -> None:
        if not endpoints:
            raise ValueError("no endpoints")
        self._groups = {
            model: [Replica(model=model, url=url, engine=make_engine(url, model)) for url in urls]
            for model, urls in endpoints.items()
        }
        self._default = default_model or next(iter(endpoints))
        if self._default not in self._groups:
            raise ValueError(f"default model {self._default!r} has no endpoints")
        self._retries = retries
        self._backoff = retry_backoff
        self._recheck = recheck
        self._recheck_max = recheck_max
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def default_model(self) -> str:
        return self._default

    @property
    def replicas(self) -> list[Replica]:
        return [replica for group in self._groups.values() for replica in group]

    def _group(self, model: str | None) -> list[Replica]:
        group = self._groups.get(model or self._default)
        if group is None:
            raise EngineBadRequest(f"model {model!r} is not served here; served: {', '.join(self._groups)}")
        return group

    def route(self, request: ChatRequest) -> list[Replica]:
        """The replicas to try for this request, in order: its healthy ones, or all if none is."""
        ranked = rank(affinity_key(request), self._group(request.model))
        healthy = [replica for replica in ranked if replica.up]
        return healthy or ranked

    # -- health ----------------------------------------------------------------------------

    def mark_down(self, replica: Replica, reason: str) -> None:
        with self._lock:
            replica.failures += 1
            delay = min(self._recheck * 2 ** (replica.failures - 1), self._recheck_max)
            replica.down_until = time.monotonic() + delay
            replica.reason = reason
            first = replica.failures == 1
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="engine-replica-watch", daemon=True)
                self._watcher.start()
        if first:
            log.warning("engine replica %s (%s) is down: %s", replica.url, replica.model, reason)

    def mark_up(self, replica: Replica) -> None:
        with self._lock:
            was_down = not replica.up
            replica.failures, replica.down_until, replica.reason = 0, 0.0, ""
        if was_down:
            log.info("engine replica %s (%s) is back", replica.url, replica.model)

    def probe(self, replica: Replica) -> bool:
        health = replica.engine.health()
        if health.ok and replica.model in health.models:
            self.mark_up(replica)
            return True
        reason = health.detail if not health.ok else f"does not serve {replica.model!r} (serves {health.models})"
        self.mark_down(replica, reason)
        return False

    def _watch(self) -> None:
        """Probe replicas that are down, each on its own backoff, until all are up again."""
        while not self._closed.is_set():
            with self._lock:  # decided under the lock, so a replica marked down now is never left unwatched
                down = [replica for replica in self.replicas if not replica.up]
                if not down:
                    self._watcher = None
                    return
            now = time.monotonic()
            for replica in down:
                if replica.down_until <= now:
                    self.probe(replica)
            self._closed.wait(min(0.5, self._recheck))

    def health(self) -> Health:
        lines, served = [], []
        for model, group in self._groups.items():
            up = [replica for replica in group if self.probe(replica)]
            if up:
                served.append(model)
            lines.append(f"{model}: {len(up)}/{len(group)} replicas up")
            lines += [f"  {r.url}: {r.reason}" for r in group if not r.up]
        return Health(ok=self._default in served, detail="\n".join(lines), models=tuple(served))

    # -- requests --------------------------------------------------------------------------

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        request = replace(request, model=request.model or self._default)
        failure: EngineError | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                wait = getattr(failure, "retry_after", None) or self._backoff * 2 ** (attempt - 1)
                time.sleep(wait * (1 + random.random() / 2))
            for replica in self.route(request):
                chunks = replica.engine.stream(request)
                try:
                    first = next(chunks)
                except StopIteration:
                    return
                except EngineRateLimited as exc:
                    failure = exc  # busy, not broken: try the next replica, keep this one in rotation
                    continue
                except EngineUnavailable as exc:
                    self.mark_down(replica, str(exc))
                    failure = exc
                    continue
                self.mark_up(replica)
                try:
                    yield first
                    yield from chunks
                except EngineUnavailable as exc:
                    # Part of the answer is already shown: the caller apologises; the next turn moves.
                    self.mark_down(replica, str(exc))
                    raise
                finally:
                    _close(chunks)
                return
        assert failure is not None
        raise failure

    def _first_answer(self, model: str | None, call: Callable[[Engine], T]) -> T:
        """Ask the model's replicas in a fixed order until one answers (token counts are the same on all)."""
        failure: EngineUnavailable | None = None
        for replica in self.route(ChatRequest(messages=(), model=model or self._default, affinity="tokens")):
            try:
                return call(replica.engine)
            except EngineUnavailable as exc:
                self.mark_down(replica, str(exc))
                failure = exc
        assert failure is not None
        raise failure

    def count_text(self, text: str, *, model: str | None = None) -> int:
        model = model or self._default
        return self._first_answer(model, lambda engine: engine.count_text(text, model=model))

    def count_tokens(self, messages: Sequence[ChatMessage], *, model: str | None = None) -> int:
        model = model or self._default
        return self._first_answer(model, lambda engine: engine.count_tokens(messages, model=model))

    def known_count(self, text: str, *, model: str | None = None) -> int | None:
        """What any replica of the model counted before: they share the model's tokenizer."""
        model = model or self._default
        for replica in self._groups.get(model, []):
            known = replica.engine.known_count(text, model=model)
            if known is not None:
                return known
        return None

    def context_window(self, model: str | None = None) -> int:
        """The smallest window among the model's healthy replicas: a conversation may move to any."""
        model = model or self._default
        windows = []
        for replica in self.route(ChatRequest(messages=(), model=model, affinity="tokens")):
            try:
                windows.append(replica.engine.context_window(model))
            except EngineUnavailable as exc:
                self.mark_down(replica, str(exc))
        if not windows:
            return self._first_answer(model, lambda engine: engine.context_window(model))
        return min(windows)

    def close(self) -> None:
        self._closed.set()
        for replica in self.replicas:
            replica.engine.close()


def _close(chunks: Iterator[StreamChunk]) -> None:
    """Close a stream the caller stopped reading, so its HTTP connection goes back at once."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
