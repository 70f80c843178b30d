"""Discord's REST API for the workers: one logged-in discord.py client per process, on its own loop.

Workers hold no gateway connection. discord.py's client works without one: after `login` its HTTP
client sends and edits through partial messageables, and its rate-limit buckets and 429 retries
apply to every answer this process streams. Celery runs tasks on threads with blocking code, so the
client lives on a long-lived event loop in a background thread and worker threads hand it coroutines.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import discord

from bots.discord.settings import DiscordSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class Pacer:
    """About one update per channel per `interval`: Discord allows a handful of edits per channel
    every few seconds, and a steady pace keeps a streamed answer clear of 429s (which discord.py
    still handles when they come)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[int, float] = {}

    async def turn(self, channel_id: int) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if len(self._next) > 1000:
            self._next = {c: t for c, t in self._next.items() if t > now}
        at = max(now, self._next.get(channel_id, 0.0))
        self._next[channel_id] = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class DiscordRest:
    def __init__(self, *, settings: DiscordSettings) -> None:
        self._token = settings.require_token()
        self.pacer = Pacer(settings.edit_interval)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="discord-rest", daemon=True)
        self._client: discord.Client | None = None

    @property
    def client(self) -> discord.Client:
        if self._client is None:
            raise RuntimeError("the Discord REST client is not logged in")
        return self._client

    @property
    def closed(self) -> bool:
        return not self._thread.is_alive()

    def start(self, *, timeout: float = 30.0) -> DiscordRest:
        self._thread.start()
        try:
            self.run(self._login(), timeout=timeout)
        except BaseException:
            self.close()
            raise
        return self

    async def _login(self) -> None:
        # No gateway, so no events: the intents only keep discord.py from warning about a missing guild cache.
        client = discord.Client(intents=discord.Intents(guilds=True))
        await client.login(self._token)
        self._client = client
        log.info("Discord REST client logged in as %s", client.user)

    async def _shutdown(self) -> None:
        """Stop answers still updating (their workers are gone) and close the HTTP session."""
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._client is not None:
            await self._client.close()

    def run(self, coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
        """Run `coro` on the client's loop and wait for its result (from a worker thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call_soon(self, callback: Callable[..., object], *args: Any) -> None:
        self._loop.call_soon_threadsafe(callback, *args)

    def close(self, *, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self._shutdown(), timeout=timeout)
        except Exception:
            log.warning("the Discord REST client did not close cleanly", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()
