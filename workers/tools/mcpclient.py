"""Connections to MCP servers, held for the life of a worker process, with the official MCP SDK.

The SDK is asynchronous and the workers are threads, so the connections live on one event loop in
a daemon thread; each server's `mcp.Client` is entered and left by one task there (its transport's
cancel scopes need that). A server is connected on first use, and a server whose connection broke
(a stdio process that died, an HTTP server gone) is connected again on the next call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from mcp import Client
from mcp import types as mcp_types
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from workers.tools.base import ToolError
from workers.tools.mcpconfig import ServerConfig

log = logging.getLogger(__name__)

T = TypeVar("T")


class ServerDown(ToolError):
    """The server could not be reached or started; it is tried again on the next use."""


class _Connection:
    """One server's live client, owned by a task on the manager's loop."""

    def __init__(self, name: str, config: ServerConfig) -> None:
        self.name = name
        self.config = config
        self.client: Client | None = None
        self.tools: list[mcp_types.Tool] = []
        self._ready: asyncio.Future[None] | None = None
        self._closing = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _target(self, stack: AsyncExitStack) -> Any:
        if self.config.command is not None:
            return StdioServerParameters(command=self.config.command, args=self.config.args, env=self.config.env)
        assert self.config.url is not None
        # Our own HTTP client (for the headers), closed with the connection.
        http = await stack.enter_async_context(create_mcp_http_client(headers=self.config.headers or None))
        return streamable_http_client(self.config.url, http_client=http)

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self.task = loop.create_task(self._hold(), name=f"mcp-{self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout=self.config.start_timeout)
        except TimeoutError:
            self._ready.cancel()  # nobody waits for it any more
            self.task.cancel()
            raise ServerDown(f"MCP server {self.name!r} did not start within {self.config.start_timeout:g} s") from None

    async def _hold(self) -> None:
        assert self._ready is not None
        try:
            async with AsyncExitStack() as stack:
                client = await stack.enter_async_context(Client(await self._target(stack)))
                listing = await client.list_tools()
                self.tools = list(listing.tools)
                self.client = client
                self._ready.set_result(None)
                await self._closing.wait()
        except BaseException as exc:  # told to the caller of open(), or logged
            if not self._ready.done():
                self._ready.set_exception(ServerDown(f"MCP server {self.name!r} did not start: {exc!r}"))
            elif not self._closing.is_set():
                log.warning("MCP server %s: connection ended: %r", self.name, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.client = None

    @property
    def alive(self) -> bool:
        return self.client is not None and self.task is not None and not self.task.done()

    async def close(self) -> None:
        self._closing.set()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, timeout=5)
            except (TimeoutError, Exception):
                self.task.cancel()


class McpManager:
    """Every configured server's connection, used from worker threads through blocking calls."""

    # Seconds a server that failed to start is left alone before it is started again.
    RETRY_AFTER = 30.0

    def __init__(self, servers: dict[str, ServerConfig]) -> None:
        self.servers = servers
        self._down_until: dict[str, float] = {}
        self._connections: dict[str, _Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        with self._start_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-clients", daemon=True)
                self._thread.start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            raise

    async def _connection(self, name: str) -> _Connection:
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            current = self._connections.get(name)
            if current is not None and current.alive:
                return current
            wait = self._down_until.get(name, 0.0) - time.monotonic()
            if wait > 0:
                raise ServerDown(f"MCP server {name!r} failed to start; trying again in {wait:.0f} s")
            if current is not None:
                log.warning("MCP server %s is down; starting it again", name)
                await current.close()
            fresh = _Connection(name, self.servers[name])
            self._connections[name] = fresh
            try:
                await fresh.open()
            except ServerDown:
                # Every request would otherwise wait out the start again: give it a rest first.
                self._down_until[name] = time.monotonic() + self.RETRY_AFTER
                raise
            log.info("MCP server %s: connected, %d tools", name, len(fresh.tools))
            return fresh

    def tools(self, name: str) -> list[mcp_types.Tool]:
        """The server's tools, connecting it first if needed (ServerDown if it cannot be reached)."""
        timeout = self.servers[name].start_timeout + 5

        async def listing() -> list[mcp_types.Tool]:
            return (await self._connection(name)).tools

        try:
            return self._run(listing(), timeout)
        except FutureTimeout:
            raise ServerDown(f"MCP server {name!r} did not start within {timeout:.0f}s") from None
        except ServerDown:
            raise
        except Exception as exc:
            raise ServerDown(f"MCP server {name!r} could not be reached: {exc!r}") from exc

    def call(self, name: str, tool: str, arguments: dict[str, Any], *, timeout: float) -> mcp_types.CallToolResult:
        """Call one tool; ToolError on a timeout, a broken connection or a server that will not start."""

        async def calling() -> mcp_types.CallToolResult:
            connection = await self._connection(name)
            assert connection.client is not None
            try:
                return await asyncio.wait_for(connection.client.call_tool(tool, arguments), timeout=timeout)
            except TimeoutError:
                raise
            except MCPError as exc:
                if exc.code != mcp_types.CONNECTION_CLOSED:
                    raise ToolError(f"the tool refused the call: {exc.message}") from exc
                await connection.close()
                raise ServerDown(
                    f"MCP server {name!r} stopped during the call; it is started again on next use"
                ) from exc
            except Exception as exc:
                # The transport broke (a stdio server died): close it so the next call starts it again.
                await connection.close()
                raise ServerDown(f"MCP server {name!r} failed during the call: {exc!r}") from exc

        try:
            return self._run(calling(), timeout + self.servers[name].start_timeout + 5)
        except (TimeoutError, FutureTimeout):
            raise ToolError(f"the tool {tool!r} did not answer within {timeout:g} s") from None

    def close(self) -> None:
        if self._loop is None:
            return

        async def closing() -> None:
            for connection in list(self._connections.values()):
                await connection.close()

        try:
            self._run(closing(), 15)
        except Exception:  # shutting down: a server that will not stop is left to the OS
            log.warning("MCP servers did not all stop cleanly", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = None
