"""The Discord surface for `llmos run` and `llmos discord`: the bot on its own thread and event loop.

If the app is not allowed the message-content intent, Discord closes the gateway (4014); the bot
then reconnects without it and keeps answering mentions and DMs, and says so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import discord
from starlette.routing import BaseRoute

from bots.discord import asgi, endpoints
from bots.discord.bot import LLMOSBot
from bots.discord.endpoint import PATH, InteractionDesk
from bots.discord.settings import DiscordSettings, load_discord_settings
from bots.discord.sink import DiscordReplies
from bots.discord.store import Store
from bots.discord.throttle import throttle_for
from workers.settings import SettingsError
from workers.sinks import Outlet, SinkContext
from workers.stack import Stack

log = logging.getLogger(__name__)


class DiscordSurface:
    name = "discord"
    listens = True

    def __init__(self, *, settings: DiscordSettings, bot_options: Mapping[str, Any] | None = None) -> None:
        self._settings = settings
        self._token = settings.require_token()
        self._store: Store | None = None
        self._options = dict(bot_options or {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._error: BaseException | None = None
        self._up = threading.Event()
        self.bot: LLMOSBot | None = None
        self.message_content = settings.message_content
        self._routes: list[BaseRoute] = []

    def share_port(self) -> bool:
        """Take interactions over HTTP on the one port: with DISCORD_PUBLIC_KEY, unless
        DISCORD_INTERACTIONS_PORT asks for a port of its own."""
        shared = self._settings.public_key is not None and not self._settings.interactions_enabled
        self._routes = asgi.routes(self._desk) if shared else []
        return shared

    def routes(self) -> Sequence[BaseRoute]:
        return self._routes

    def _desk(self) -> tuple[InteractionDesk | None, asyncio.AbstractEventLoop | None]:
        bot = self.bot
        return (bot.desk if bot is not None else None), self._loop

    def outlets(self, context: SinkContext) -> Sequence[Outlet]:
        """The workers answer Discord over its REST API, with this surface's settings."""
        return [DiscordReplies(settings=self._settings, bus=context.bus).outlet()]

    def start(self, stack: Stack, *, timeout: float = 60.0) -> None:
        self._store = Store(
            sessions=stack.sessions,
            enqueue=stack.enqueue,
            skills=stack.skills.names,
            rate_ceiling=stack.scheduling.user_requests_per_minute,
            documents=stack.settings.document_limits,
            leases=stack.leases,
            notices=throttle_for(
                stack.broker.url, in_process=stack.broker.in_process, prefix=stack.settings.redis_key_prefix
            ),
        )
        endpoints.use(api_url=self._settings.api_url, gateway_url=self._settings.gateway_url)
        self._thread = threading.Thread(target=self._run, name="discord-bot", daemon=True)
        self._thread.start()
        if not self._up.wait(timeout):
            self.stop()
            raise RuntimeError(f"the Discord bot did not connect within {timeout:.0f}s")
        if self._error is not None:
            raise SettingsError(f"DISCORD_TOKEN: the Discord bot could not start: {self._error}") from self._error

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:
            log.exception("the Discord bot stopped")
            self._error = exc
        finally:
            self._up.set()
            self._loop.close()

    async def _main(self) -> None:
        registered = False
        assert self._store is not None, "start() sets the store"
        while not self._stopping:
            bot = LLMOSBot(
                settings=self._settings,
                store=self._store,
                message_content=self.message_content,
                ready=self._up,
                register_commands=not registered,
                **self._options,
            )
            self.bot = bot
            try:
                async with bot:
                    await bot.start(self._token)
                return
            except discord.PrivilegedIntentsRequired:
                registered = registered or bot.syncs > 0
                if not self.message_content:
                    raise
                log.warning(
                    "this app may not read message content (enable the Message Content intent in the developer "
                    "portal); the bot answers mentions and DMs only"
                )
                self.message_content = False

    def stop(self, *, timeout: float = 15.0) -> None:
        self._stopping = True
        bot, loop = self.bot, self._loop
        if bot is not None and loop is not None and not loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(bot.close(), loop).result(timeout)
            except Exception:
                log.warning("the Discord bot did not close cleanly", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)

    def describe(self) -> str:
        user = self.bot.user if self.bot else None
        mode = "messages, mentions and DMs" if self.message_content else "mentions and DMs (no message-content intent)"
        extra = ""
        if self.bot is not None and self.bot.endpoint is not None:
            extra = f"; interactions endpoint {self.bot.endpoint.url}"
        elif self._routes:
            extra = f"; interactions at {PATH} on the admin service's port"
        return f"Discord bot {user} on the gateway: {mode}{extra}"


def from_environment() -> DiscordSurface | None:
    """The bot, when DISCORD_TOKEN is set (read here, once, at the entry point)."""
    settings = load_discord_settings()
    if settings.token is None:
        return None
    return DiscordSurface(settings=settings)
