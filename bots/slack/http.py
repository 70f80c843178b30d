"""The HTTP endpoint Slack calls: Events API, interactivity and slash commands on one path, plus OAuth.

By default these are routes of the one ASGI app (the admin service's); with SLACK_PORT they get an
aiohttp server of their own (not bolt's development server) on its own thread and event loop. Either
way each request becomes a `BoltRequest` dispatched on a thread pool (bolt's `App` is synchronous): bolt
checks the signature there (Slack's v0 HMAC, five-minute window), acknowledges, and runs the listener
on its own threads, so a slow listener never holds an event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.starlette.handler import to_bolt_request as starlette_to_bolt
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
# A request body must be in within this time; a trickled one is cut with 408.
BODY_TIMEOUT = 30.0


def routes(app: App, *, path: str) -> list[BaseRoute]:
    """The endpoint as routes of the one ASGI app."""

    async def events(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
        try:
            return await _run(app.dispatch, starlette_to_bolt(request, body))
        except Exception as exc:
            # bolt's own matchers index into the payload (`actions[0]`); a malformed one must not be a 500.
            log.warning("Slack request bolt could not take: %s", type(exc).__name__)
            return PlainTextResponse("malformed Slack request", status_code=400)

    found: list[BaseRoute] = [Route(path, events, methods=["POST"])]
    flow = app.oauth_flow
    if flow is not None:
        found.append(Route(flow.install_path, _page(flow.handle_installation), methods=["GET"]))
        found.append(Route(flow.redirect_uri_path, _page(flow.handle_callback), methods=["GET"]))
    return found


def _page(handle: Callable[[BoltRequest], BoltResponse]) -> Callable[[Request], object]:
    async def page(request: Request) -> Response:
        return await _run(handle, starlette_to_bolt(request, b""))

    return page


async def _run(handle: Callable[[BoltRequest], BoltResponse], request: BoltRequest) -> Response:
    return to_starlette_response(await run_in_threadpool(handle, request))


def to_bolt_request(request: web.Request, body: str) -> BoltRequest:
    return BoltRequest(body=body, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]


class HttpServer:
    def __init__(self, *, app: App, host: str, port: int, path: str, threads: int = 16) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="slack-http")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="slack-http", daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}{self._path}"

    def start(self) -> HttpServer:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=15)
        except BaseException:
            self.stop()
            raise
        log.info("Slack endpoint listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=15)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _start(self) -> None:
        server = web.Application(client_max_size=MAX_BODY_BYTES)
        server.router.add_post(self._path, self._dispatch)
        server.router.add_get("/healthz", self._health)
        flow = self._app.oauth_flow
        if flow is not None:
            server.router.add_get(flow.install_path, self._install)
            server.router.add_get(flow.redirect_uri_path, self._callback)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def _dispatch(self, request: web.Request) -> web.Response:
        try:
            body = await asyncio.wait_for(request.text(), BODY_TIMEOUT)
        except TimeoutError:
            return web.Response(status=408, text="the body did not arrive in time")
        try:
            response = await self._loop.run_in_executor(self._pool, self._app.dispatch, to_bolt_request(request, body))
        except Exception as exc:
            # bolt's own matchers index into the payload (`actions[0]`); a malformed one must not be a 500.
            log.warning("Slack request bolt could not take: %s", type(exc).__name__)
            return web.Response(status=400, text="malformed Slack request")
        return await to_aiohttp_response(response)

    async def _install(self, request: web.Request) -> web.Response:
        flow = self._app.oauth_flow
        assert flow is not None
        response = await self._loop.run_in_executor(self._pool, flow.handle_installation, to_bolt_request(request, ""))
        return await to_aiohttp_response(response)

    async def _callback(self, request: web.Request) -> web.Response:
        flow = self._app.oauth_flow
        assert flow is not None
        response = await self._loop.run_in_executor(self._pool, flow.handle_callback, to_bolt_request(request, ""))
        return await to_aiohttp_response(response)

    @staticmethod
    async def _health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")
