"""The optional HTTP interactions endpoint (`POST /discord/interactions`), for apps that receive
slash commands over HTTP instead of the gateway.

Every request is verified before it is read; PING is answered with PONG; a command is handled by
the same handler as over the gateway, and its first answer (usually "deferred") is the HTTP response,
sent within Discord's 3 seconds whatever the handler is still doing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import web

from bots.discord.responder import HttpResponder
from bots.discord.settings import DiscordSettings
from bots.discord.signature import Verifier

if TYPE_CHECKING:
    from bots.discord.bot import LLMOSBot

log = logging.getLogger(__name__)

PATH = "/discord/interactions"
PING, PONG = 1, 1
# Answer Discord well inside its 3 seconds; a handler still working by then has deferred implicitly.
FIRST_ANSWER_WITHIN = 2.0
MAX_BODY = 1_000_000
# The whole body must be in within this time (a trickled body is cut with 408).
BODY_TIMEOUT = 30.0


class InteractionsEndpoint:
    def __init__(self, *, bot: LLMOSBot, settings: DiscordSettings) -> None:
        assert settings.public_key is not None
        self._bot = bot
        self._verifier = Verifier(public_key=settings.public_key, max_age=settings.interactions_max_age)
        self._host = settings.interactions_host
        self._port = settings.interactions_port or 0
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}{PATH}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post(PATH, self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.port = int(self._runner.addresses[0][1])
        log.info("Discord interactions endpoint at %s", self.url)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await asyncio.wait_for(request.read(), BODY_TIMEOUT)
        except TimeoutError:
            return web.json_response({"error": "the body did not arrive in time"}, status=408)
        problem = self._verifier.problem(
            signature=request.headers.get("X-Signature-Ed25519"),
            timestamp=request.headers.get("X-Signature-Timestamp"),
            body=body,
        )
        if problem:
            log.warning("refused an interactions request: %s", problem)
            return web.json_response({"error": "invalid request signature"}, status=401)
        try:
            payload: dict[str, Any] = json.loads(body)
            kind = int(payload["type"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "not an interaction"}, status=400)
        if kind == PING:
            return web.json_response({"type": PONG})
        try:
            interaction: discord.Interaction = discord.Interaction(data=payload, state=self._bot._connection)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed interaction payload: %s", exc)
            return web.json_response({"error": "malformed interaction"}, status=400)
        return await self._answer(request, interaction)

    async def _answer(self, request: web.Request, interaction: discord.Interaction) -> web.StreamResponse:
        responder = HttpResponder(interaction)
        task = asyncio.create_task(self._bot.interactions.handle(interaction, responder))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            first = await asyncio.wait_for(asyncio.shield(responder.first), FIRST_ANSWER_WITHIN)
        except TimeoutError:
            await responder.defer(ephemeral=False)
            first = responder.first.result()
        response = web.json_response(first)
        await response.prepare(request)
        await response.write_eof()
        responder.sent.set()
        return response
