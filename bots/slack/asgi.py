"""Slack's HTTP endpoint as routes of the one ASGI app (the admin service's): Events API,
interactivity and slash commands on one path, plus the OAuth install pages.

bolt's `App` is synchronous, so each request is dispatched on Starlette's thread pool (bolt checks the
signature there, acknowledges, and runs the listener on its own threads); the event loop never waits.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bots.slack.http import MAX_BODY_BYTES


def routes(app: App, *, path: str) -> list[BaseRoute]:
    async def events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        return await _run(app.dispatch, to_bolt_request(request, body))

    found: list[BaseRoute] = [Route(path, events, methods=["POST"])]
    flow = app.oauth_flow
    if flow is not None:
        found.append(Route(flow.install_path, _page(flow.handle_installation), methods=["GET"]))
        found.append(Route(flow.redirect_uri_path, _page(flow.handle_callback), methods=["GET"]))
    return found


def _page(handle: Callable[[BoltRequest], BoltResponse]) -> Callable[[Request], object]:
    async def page(request: Request) -> Response:
        return await _run(handle, to_bolt_request(request, b""))

    return page


async def _run(handle: Callable[[BoltRequest], BoltResponse], request: BoltRequest) -> Response:
    return to_starlette_response(await run_in_threadpool(handle, request))
