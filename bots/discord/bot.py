"""The Discord bot process: a gateway connection that receives messages and interactions and hands
them to the workers. It never calls the engine and never streams an answer; the workers do that
over the REST API.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import discord

from bots.discord import endpoints
from bots.discord.chains import ChainIndex
from bots.discord.commands import definitions
from bots.discord.interactions import InteractionHandler
from bots.discord.messages import MessageHandler
from bots.discord.places import ChannelCache
from bots.discord.responder import GatewayResponder
from bots.discord.settings import DEFAULT_API_URL, DiscordSettings
from bots.discord.store import Store

log = logging.getLogger(__name__)


def intents(*, message_content: bool) -> discord.Intents:
    """Guilds, guild and DM messages; message content only when asked for (it is privileged)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = message_content
    return wanted


class LLMOSBot(discord.AutoShardedClient):
    """discord.py's sharded client: one gateway connection per shard, Discord's recommended number unless
    DISCORD_SHARD_COUNT says; with DISCORD_SHARD_IDS this process runs only those shards."""

    def __init__(
        self,
        *,
        settings: DiscordSettings,
        store: Store,
        message_content: bool,
        ready: threading.Event | None = None,
        register_commands: bool = True,
        **options: Any,
    ) -> None:
        if settings.shard_count is not None:
            options.setdefault("shard_count", settings.shard_count)
        if settings.shard_ids:
            options.setdefault("shard_ids", list(settings.shard_ids))
        super().__init__(
            intents=intents(message_content=message_content),
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self.store = store
        # Set at the first READY, for whoever waits to know the bot is up.
        self.ready = ready or threading.Event()
        self.syncs = 0
        self._register = register_commands and settings.sync_commands
        self.endpoint: Any = None
        channels = ChannelCache()
        self.messages = MessageHandler(
            client=self, store=store, settings=settings, me=self._me, chains=ChainIndex(), channels=channels
        )
        self.interactions = InteractionHandler(client=self, store=store, channels=channels, sync=self.sync_commands)

    def _me(self) -> discord.ClientUser:
        if self.user is None:
            raise RuntimeError("the bot is not logged in")
        return self.user

    async def setup_hook(self) -> None:
        """Once per login (not per READY): find the gateway, register commands, open the HTTP endpoint."""
        if not endpoints.gateway_configured() and self.settings.api_url != DEFAULT_API_URL:
            # discord.py's Client would go to discord.gg; ask the configured REST API instead.
            _shards, url, _limits = await self.http.get_bot_gateway()
            endpoints.use_gateway(url)
        if self._register:
            await self.sync_commands()
        if self.settings.interactions_enabled:
            from bots.discord.endpoint import InteractionsEndpoint

            self.endpoint = InteractionsEndpoint(bot=self, settings=self.settings)
            await self.endpoint.start()

    async def sync_commands(self) -> int:
        app = self.application_id
        if app is None:
            raise RuntimeError("the application id is not known before login")
        payload = definitions()
        guild = self.settings.commands_guild
        if guild:
            registered = await self.http.bulk_upsert_guild_commands(app, guild, payload)
        else:
            registered = await self.http.bulk_upsert_global_commands(app, payload)
        self.syncs += 1
        log.info("registered %d application commands%s", len(registered), f" in guild {guild}" if guild else "")
        return len(registered)

    async def on_ready(self) -> None:
        log.info("Discord bot %s connected to %d guild(s)", self.user, len(self.guilds))
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.messages.handle(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self.interactions.handle(interaction, GatewayResponder(interaction))

    async def close(self) -> None:
        if self.endpoint is not None:
            await self.endpoint.stop()
            self.endpoint = None
        await super().close()
