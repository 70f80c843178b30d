"""The Discord surface for `llmos run` and `llmos discord`: the bot on its own thread and event loop.

If the app is not allowed the message-content intent, Discord closes the gateway (4014); the bot
then reconnects without it and keeps answering mentions and DMs, and says so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import discord

from bots.discord import endpoints, rest
from bots.discord.bot import LLMOSBot
from bots.discord.settings import DiscordSettings, load_discord_settings
from bots.discord.store import Store
from workers.settings import SettingsError

if TYPE_CHECKING:
    from workers.stack import Stack

log = logging.getLogger(__name__)


class DiscordSurface:
    name = "discord"

    def __init__(self, *, settings: DiscordSettings, store: Store, bot_options: Mapping[str, Any] | None = None):
        self._settings = settings
        self._token = settings.require_token()
        self._store = store
        self._options = dict(bot_options or {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._error: BaseException | None = None
        self._up = threading.Event()
        self.bot: LLMOSBot | None = None
        self.message_content = settings.message_content

    def start(self, *, timeout: float = 60.0) -> None:
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
        return f"Discord bot {user} on the gateway: {mode}{extra}"


def surface(stack: Stack) -> DiscordSurface | None:
    """`llmos run` starts the bot when DISCORD_TOKEN is set."""
    settings = load_discord_settings()
    if settings.token is None:
        return None
    rest.configure(settings)
    store = Store(
        sessions=stack.sessions, enqueue=stack.enqueue, rate_ceiling=stack.scheduling.user_requests_per_minute
    )
    return DiscordSurface(settings=settings, store=store)
