"""Request body caps per route class, enforced while the body streams in, before any route or key check runs.

A pure ASGI middleware, so it wraps whatever the admin app mounts (the API, hooks, the web chat, Slack
events, Discord interactions). A declared `Content-Length` over the cap is refused before a byte is read;
a chunked body is counted as it arrives and refused the moment it passes the cap; a body that trickles
in is cut once its read deadline passes. Nothing is buffered here: the route reads what it reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KIB, MIB = 1024, 1024 * 1024


@dataclass(frozen=True, slots=True)
class RouteClass:
    prefix: str
    max_bytes: int
    # Only paths that also end so (a route under a tenant's id); a class with a suffix beats one without.
    suffix: str = ""

    def matches(self, path: str) -> bool:
        return path.startswith(self.prefix) and path.endswith(self.suffix)

    @property
    def rank(self) -> tuple[int, int]:
        return len(self.suffix), len(self.prefix)


# Longest prefix wins (a class with a suffix first). Sized from what each route accepts: a job's input
# (200,000 characters, escaped) in 2 MiB; a Slack or Discord payload or an API body in 1 MiB; a chat line
# (20,000 characters, JSON-escaped) in 256 KiB; a sign-in form is a key.
ROUTE_CLASSES: tuple[RouteClass, ...] = (
    RouteClass("/hooks/", 2 * MIB),
    RouteClass("/api/", 1 * MIB),
    # A knowledge document in base64: DOCUMENT_MAX_BYTES (20 MB by default) grows by a third.
    RouteClass("/api/tenants/", 28 * MIB, suffix="/knowledge"),
    RouteClass("/chat/", 256 * KIB),
    # A chat line with up to five documents attached, in base64.
    RouteClass("/chat/messages", 28 * MIB),
    RouteClass("/login", 4 * KIB),
    RouteClass("/slack/", 1 * MIB),
    RouteClass("/discord/", 1 * MIB),
)
# Everything else (pages, health, metrics) takes no body worth speaking of.
DEFAULT_MAX_BYTES = 16 * KIB
# uvicorn's own ceiling on one request's headers and on idle keep-alive connections.
MAX_HEADER_BYTES = 64 * KIB


class BodyRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def cap_for(path: str, classes: Sequence[RouteClass] = ROUTE_CLASSES) -> int:
    best: RouteClass | None = None
    for item in classes:
        if item.matches(path) and (best is None or item.rank > best.rank):
            best = item
    return best.max_bytes if best else DEFAULT_MAX_BYTES


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length; BodyRefused(400) when it is not one non-negative integer."""
    values = [v for k, v in scope.get("headers", ()) if k.lower() == b"content-length"]
    if not values:
        return None
    text = values[0].strip()
    if len(values) > 1 or not text.isdigit() or len(text) > 18:
        raise BodyRefused(400, "Content-Length must be one non-negative integer")
    return int(text)


class BodyLimit:
    """Refuse bodies over their route class's cap (413) and bodies not finished within `read_timeout` (408)."""

    def __init__(
        self, app: ASGIApp, *, read_timeout: float = 30.0, classes: Sequence[RouteClass] = ROUTE_CLASSES
    ) -> None:
        self.app = app
        self.read_timeout = read_timeout
        self.classes = tuple(classes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = cap_for(scope.get("path", ""), self.classes)
        try:
            length = declared_length(scope)
        except BodyRefused as refused:
            await _refuse(send, scope, refused)
            return
        if length is not None and length > cap:
            await _refuse(
                send, scope, BodyRefused(413, f"the body is larger than {cap} bytes, the limit for this route")
            )
            return
        metered = _Metered(receive, cap=cap, timeout=self.read_timeout)
        reply = _Reply(send, scope, metered)
        try:
            await self.app(scope, metered, reply)
        except Exception:
            # A route may wrap the refusal in an error of its own (FastAPI turns a failed body read into
            # 400); the refusal is the answer. Any other failure is the app's to report.
            if metered.refused is None:
                raise
        await reply.settle()


class _Reply:
    """The app's `send`, replaced by the refusal once the body was refused and nothing was sent yet."""

    def __init__(self, send: Send, scope: Scope, metered: _Metered) -> None:
        self._send = send
        self._scope = scope
        self._metered = metered
        self._started = False
        self._ours = False

    async def __call__(self, message: Message) -> None:
        if self._ours:
            return
        if self._metered.refused is not None and not self._started:
            await self.settle()
            return
        self._started = self._started or message["type"] == "http.response.start"
        await self._send(message)

    async def settle(self) -> None:
        refused = self._metered.refused
        if refused is not None and not self._started and not self._ours:
            self._ours = True
            await _refuse(self._send, self._scope, refused)


class _Metered:
    """A `receive` that counts body bytes against the cap and holds the whole body to one deadline."""

    def __init__(self, receive: Receive, *, cap: int, timeout: float) -> None:
        self._receive = receive
        self._cap = cap
        self._timeout = timeout
        self._deadline: float | None = None
        self._seen = 0
        self._done = False
        self.refused: BodyRefused | None = None

    async def __call__(self) -> Message:
        if self.refused is not None:
            return {"type": "http.disconnect"}
        if self._done:
            # The body is in; later calls wait for a disconnect (streamed answers), with no deadline.
            return await self._receive()
        if self._deadline is None:
            self._deadline = time.monotonic() + self._timeout
        try:
            async with asyncio.timeout_at(_loop_time(self._deadline)):
                message = await self._receive()
        except TimeoutError:
            raise self._refuse(408, f"the body did not arrive within {self._timeout:g} s") from None
        if message["type"] != "http.request":
            self._done = True
            return message
        self._seen += len(message.get("body", b""))
        if self._seen > self._cap:
            raise self._refuse(413, f"the body is larger than {self._cap} bytes, the limit for this route")
        self._done = not message.get("more_body", False)
        return message

    def _refuse(self, status: int, detail: str) -> BodyRefused:
        self.refused = BodyRefused(status, detail)
        self._done = True
        return self.refused


def _loop_time(deadline: float) -> float:
    """A `time.monotonic()` deadline on the running loop's clock."""
    return asyncio.get_running_loop().time() + (deadline - time.monotonic())


async def _refuse(send: Send, scope: Scope, refused: BodyRefused) -> None:
    log.info("refused %s %s: %s", scope.get("method"), scope.get("path"), refused.detail)
    body = json.dumps({"detail": refused.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # The rest of the body is never read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
