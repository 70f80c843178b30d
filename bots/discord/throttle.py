"""At most one public refusal per member, server and reason in a window, whichever process is asked.

A refusal to a plain message cannot be ephemeral on Discord: it is a reply the channel sees. A member
who keeps asking hears it once a window. Where LLMOS runs on Redis, the window is one key per member
and reason set with NX and an expiry, so the bot's shards, a second bot process and a restarted one
agree; with the in-process broker there is only this process to agree with, and a dict is enough.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

import redis

log = logging.getLogger(__name__)

# A member is told the same refusal at most once this often.
NOTICE_WINDOW = 60.0


@dataclass(frozen=True, slots=True)
class Notice:
    """Who would be told what: a server (tenant), a member, and the reason (the words of a rule, or "limit")."""

    tenant: str
    user: str
    reason: str


class Throttle(Protocol):
    def due(self, notice: Notice) -> bool:
        """Whether to say it now; True claims the window, so a second asker in it gets False."""
        ...


@dataclass
class LocalThrottle:
    """This process's memory of what it said (monotonic clock, pruned as it goes)."""

    window: float = NOTICE_WINDOW
    _said: dict[Notice, float] = field(default_factory=dict)

    def due(self, notice: Notice) -> bool:
        now = time.monotonic()
        last = self._said.get(notice)
        if last is not None and now - last < self.window:
            return False
        self._said = {k: t for k, t in self._said.items() if now - t < self.window}
        self._said[notice] = now
        return True


class RedisThrottle:
    """One `SET NX EX` per notice: the first process to set the key says it, the rest stay quiet.

    If Redis does not answer, this process's own memory decides: a member may then hear a refusal
    once per process, which is better than never hearing why they get no answer.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "", window: float = NOTICE_WINDOW) -> None:
        self._client = client
        self._prefix = f"{prefix}llmos:notice:discord:"
        self._window = window
        self._local = LocalThrottle(window=window)

    def key(self, notice: Notice) -> str:
        # A rule's words are free text: hashed, so the key is short and holds nothing a member wrote.
        reason = hashlib.sha256(notice.reason.encode()).hexdigest()[:16]
        return f"{self._prefix}{notice.tenant}:{notice.user}:{reason}"

    def due(self, notice: Notice) -> bool:
        try:
            return bool(self._client.set(self.key(notice), 1, nx=True, ex=max(1, round(self._window))))
        except redis.RedisError as exc:
            log.warning("notice throttle: Redis did not answer (%s); deciding in this process", exc)
            return self._local.due(notice)


def throttle_for(broker_url: str, *, in_process: bool, prefix: str = "") -> Throttle:
    """Shared through the broker's Redis, or this process's own where the broker is in-process."""
    return LocalThrottle() if in_process else RedisThrottle(redis.Redis.from_url(broker_url), prefix=prefix)
