"""The HTTP endpoint Slack calls: Events API, interactivity and slash commands on one path, plus OAuth.

An aiohttp server (not bolt's development server) on its own thread and event loop. Each request
is turned into a `BoltRequest` and dispatched on a thread pool, so a slow listener never holds the
loop and bolt's signature check (Slack's v0 HMAC, five-minute window) answers every request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.aiohttp import to_aiohttp_response

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
# A request body must be in within this time; a trickled one is cut with 408.
BODY_TIMEOUT = 30.0


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
