"""The HTTP interactions endpoint (`POST /discord/interactions`), for apps that receive slash commands
over HTTP instead of the gateway: a route of the one ASGI app by default (`bots/discord/asgi.py`),
or a server of its own on `DISCORD_INTERACTIONS_PORT`.

Every request is verified before it is read; PING is answered with PONG; a command is handled by
the same handler as over the gateway, and its first answer (usually "deferred") is the HTTP response,
sent within Discord's 3 seconds whatever the handler is still doing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import discord
from aiohttp import web
from discord.state import ConnectionState

from bots.discord.responder import HttpResponder
from bots.discord.signature import Verifier

log = logging.getLogger(__name__)

PATH = "/discord/interactions"
PING, PONG = 1, 1
# Answer Discord well inside its 3 seconds; a handler still working by then has deferred implicitly.
FIRST_ANSWER_WITHIN = 2.0
MAX_BODY = 1_000_000
# The whole body must be in within this time (a trickled body is cut with 408).
BODY_TIMEOUT = 30.0

# The bot's interaction handler: the same one the gateway's interactions go to.
Handle = Callable[[discord.Interaction, HttpResponder], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    # Told once the response has gone out (Discord knows the interaction only after that).
    responder: HttpResponder | None = None


class InteractionDesk:
    """Turns one HTTP request into its first answer, whatever serves the HTTP; runs on the bot's loop."""

    def __init__(self, *, state: ConnectionState[Any], handle: Handle, verifier: Verifier) -> None:
        self._state = state
        self._handle = handle
        self._verifier = verifier
        self._tasks: set[asyncio.Task[None]] = set()

    async def reply(self, body: bytes, *, signature: str | None, timestamp: str | None) -> Reply:
        problem = self._verifier.problem(signature=signature, timestamp=timestamp, body=body)
        if problem:
            log.warning("refused an interactions request: %s", problem)
            return Reply(401, {"error": "invalid request signature"})
        try:
            payload: dict[str, Any] = json.loads(body)
            kind = int(payload["type"])
        except (ValueError, KeyError, TypeError):
            return Reply(400, {"error": "not an interaction"})
        if kind == PING:
            return Reply(200, {"type": PONG})
        try:
            interaction: discord.Interaction = discord.Interaction(data=payload, state=self._state)  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("malformed interaction payload: %s", exc)
            return Reply(400, {"error": "malformed interaction"})
        responder = HttpResponder(interaction)
        task = asyncio.create_task(self._handle(interaction, responder))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            first = await asyncio.wait_for(asyncio.shield(responder.first), FIRST_ANSWER_WITHIN)
        except TimeoutError:
            await responder.defer(ephemeral=False)
            first = responder.first.result()
        return Reply(200, first, responder)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class InteractionsEndpoint:
    """The endpoint on a port of its own (`DISCORD_INTERACTIONS_PORT`), on the bot's loop."""

    def __init__(self, *, desk: InteractionDesk, host: str, port: int) -> None:
        self._desk = desk
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
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
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await asyncio.wait_for(request.read(), BODY_TIMEOUT)
        except TimeoutError:
            return web.json_response({"error": "the body did not arrive in time"}, status=408)
        reply = await self._desk.reply(
            body,
            signature=request.headers.get("X-Signature-Ed25519"),
            timestamp=request.headers.get("X-Signature-Timestamp"),
        )
        response = web.json_response(reply.body, status=reply.status)
        await response.prepare(request)
        await response.write_eof()
        if reply.responder is not None:
            reply.responder.sent.set()
        return response
