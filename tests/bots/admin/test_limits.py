"""Body caps and read deadlines: refused while the body streams in, before any route or key check.

The first tests drive the middleware as an ASGI app with scripted `receive` calls; the rest send raw
bytes to the real admin service and measure what a 200 MB body costs the process.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bots.admin.limits import DEFAULT_MAX_BYTES, KIB, MIB, BodyLimit, cap_for
from bots.admin.service import AdminService
from tests.bots.admin.conftest import Admin, admin_settings
from workers.stack import Stack

Message = dict[str, Any]


def test_each_route_class_has_its_cap() -> None:
    assert cap_for("/hooks/3/jobs") == 2 * MIB
    assert cap_for("/api/tenants/1/limits") == 1 * MIB
    assert cap_for("/chat/messages") == 28 * MIB  # with documents attached
    assert cap_for("/chat/anything-else") == 256 * KIB
    assert cap_for("/api/tenants/1/knowledge") == 28 * MIB
    assert cap_for("/api/tenants/1/knowledge/handbook.pdf") == 1 * MIB
    assert cap_for("/login") == 4 * KIB
    assert cap_for("/slack/events") == cap_for("/discord/interactions") == 1 * MIB
    assert cap_for("/metrics") == DEFAULT_MAX_BYTES


class Recorder:
    """An ASGI app that reads the whole body the way Starlette does, then answers 200."""

    def __init__(self, *, swallow: bool = False) -> None:
        self.swallow = swallow
        self.read = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            while True:
                message = await receive()
                self.read += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
        except Exception:
            if not self.swallow:
                raise
            # What FastAPI does with a failed body read: its own 400.
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"There was an error parsing the body"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def drive(
    app: Any, path: str, chunks: list[bytes], *, headers: list[tuple[bytes, bytes]] | None = None, gap: float = 0.0
) -> list[Message]:
    sent: list[Message] = []
    queue = list(chunks)

    async def receive() -> Message:
        if gap:
            await asyncio.sleep(gap)
        body = queue.pop(0) if queue else b""
        return {"type": "http.request", "body": body, "more_body": bool(queue)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers or []}
    asyncio.run(app(scope, receive, send))
    return sent


def status_of(sent: list[Message]) -> int:
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return int(starts[0]["status"])


def test_a_declared_length_over_the_cap_is_refused_before_the_app_runs() -> None:
    inner = Recorder()
    sent = drive(BodyLimit(inner), "/login", [b"x"], headers=[(b"content-length", str(200 * MIB).encode())])
    assert status_of(sent) == 413 and inner.read == 0
    assert (b"connection", b"close") in sent[0]["headers"]
    assert "4096 bytes" in json.loads(sent[1]["body"])["detail"]


@pytest.mark.parametrize("length", [b"-1", b"1e3", b"12, 12", b"9" * 40])
def test_a_malformed_length_is_a_bad_request(length: bytes) -> None:
    sent = drive(BodyLimit(Recorder()), "/api/x", [b""], headers=[(b"content-length", length)])
    assert status_of(sent) == 400


@pytest.mark.parametrize("swallow", [False, True])
def test_a_streamed_body_is_cut_at_the_cap_even_when_the_app_hides_the_error(swallow: bool) -> None:
    inner = Recorder(swallow=swallow)
    chunk = b"x" * (64 * KIB)
    sent = drive(BodyLimit(inner), "/api/tenants/1/limits", [chunk] * 100)
    assert status_of(sent) == 413
    # Read up to the chunk that crossed 1 MiB, never further.
    assert inner.read == 16 * 64 * KIB


def test_a_body_within_the_cap_reaches_the_app_whole() -> None:
    inner = Recorder()
    sent = drive(BodyLimit(inner), "/chat/messages", [b"a" * KIB] * 10)
    assert status_of(sent) == 200 and inner.read == 10 * KIB


def test_a_trickled_body_is_cut_at_its_deadline() -> None:
    inner = Recorder()
    started = time.monotonic()
    sent = drive(BodyLimit(inner, read_timeout=0.3), "/hooks/1/jobs", [b"x"] * 100, gap=0.05)
    assert status_of(sent) == 408
    assert time.monotonic() - started < 2.0 and inner.read < 10


# -- the real service, raw sockets -------------------------------------------------------------


@pytest.fixture
def slow_admin(clean_stack: Stack) -> Iterator[AdminService]:
    service = AdminService.for_stack(clean_stack, admin_settings(body_timeout_seconds=0.5), metrics_settle=0.0)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        got = sock.recv(4096)
        if not got:
            break
        data += got
    return int(data.split(b" ", 2)[1])


def _head(path: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer llmos_nobody\r\n{extra}\r\n"
    ).encode()


def _send_big(url: str, path: str, total: int, *, chunked: bool) -> int:
    """Send `total` bytes (as far as the server reads them) and return the status it answered."""
    sock = _connect(url)
    piece = b"x" * (256 * KIB)
    try:
        extra = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n"
        sock.sendall(_head(path, extra))
        sent = 0
        try:
            while sent < total:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading, as it should
        return _status(sock)
    finally:
        sock.close()


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


PATHS = ["/login", "/hooks/1/jobs", "/chat/messages", "/api/tenants", "/api/webhooks"]


def test_200_mb_bodies_cost_the_service_nothing(admin: Admin) -> None:
    before = _rss_bytes()
    for path in PATHS:
        assert _send_big(admin.url, path, 200 * MIB, chunked=False) == 413, path
        assert _send_big(admin.url, path, 200 * MIB, chunked=True) == 413, path
    grown = _rss_bytes() - before
    assert grown < 50 * MIB, f"RSS grew by {grown / MIB:.0f} MiB"


def _trickle(url: str, path: str) -> int | None:
    """Send a body a byte every 0.1 s; the status the server answers with (it must not wait forever)."""
    sock = _connect(url)
    try:
        sock.sendall(_head(path, "Content-Length: 1000\r\n"))
        started = time.monotonic()
        sock.settimeout(0.1)
        while time.monotonic() - started < 5:
            try:
                sock.sendall(b"x")
                return _status(sock)
            except TimeoutError:
                continue
        return None
    finally:
        sock.close()


def test_a_trickled_body_is_cut_by_the_service(slow_admin: AdminService) -> None:
    for path in PATHS:
        assert _trickle(slow_admin.url, path) == 408, path


def test_ordinary_requests_still_pass(admin: Admin) -> None:
    with admin.api() as api:
        assert api.get("/api/tenants").status_code == 200
        assert api.post("/api/webhooks", json={"url": "https://example.com/x"}).status_code in {201, 422}
