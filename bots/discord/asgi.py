"""`POST /discord/interactions` as a route of the one ASGI app (the admin service's).

The bot lives on its own event loop (its own thread); the request is verified and answered there by
the bot's `InteractionDesk`, and the route only carries bytes between the two loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bots.discord.endpoint import MAX_BODY, PATH, InteractionDesk

# The bot's desk and loop right now (the bot is rebuilt when it reconnects without an intent).
Find = Callable[[], tuple[InteractionDesk | None, asyncio.AbstractEventLoop | None]]


def routes(find: Find) -> list[BaseRoute]:
    async def interactions(request: Request) -> Response:
        desk, loop = find()
        if desk is None or loop is None or loop.is_closed():
            return JSONResponse({"error": "the Discord bot is not connected"}, status_code=503)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        headers = request.headers
        answer = desk.reply(
            body, signature=headers.get("X-Signature-Ed25519"), timestamp=headers.get("X-Signature-Timestamp")
        )
        reply = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(answer, loop))
        sent = None
        if reply.responder is not None:
            # After the response is out: only then may the handler edit the interaction's answer.
            sent = BackgroundTask(loop.call_soon_threadsafe, reply.responder.sent.set)
        return JSONResponse(reply.body, status_code=reply.status, background=sent)

    return [Route(PATH, interactions, methods=["POST"])]
