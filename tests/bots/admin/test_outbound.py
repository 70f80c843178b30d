"""Outbound POSTs: only public addresses, the address checked is the one connected to, one deadline,
a bounded reply, and a slow receiver that holds up nobody else."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from bots.admin import outbound, urls
from db import notices
from tests.bots.admin.conftest import Admin
from tests.bots.admin.receiver import Receiver
from tests.bots.admin.test_webhooks import emit, subscribe, wait_delivery


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",  # cloud metadata
        "100.100.100.200",  # Alibaba's metadata, in shared address space
        "::1",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::7f00:1",
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
    ],
)
def test_every_non_public_form_is_refused(address: str) -> None:
    with pytest.raises(urls.UnsafeURL, match="non-public"):
        urls.require_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_pass(address: str) -> None:
    urls.require_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "http:///x", "http://u:p@example.com/", "http://example.com:99999/", "http://[::1/"]
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(urls.UnsafeURL):
        urls.check(url, allow_private=True)


def _post(url: str, *, deadline: float = 5.0, allow_private: bool = True) -> outbound.Outcome:
    async def run() -> outbound.Outcome:
        async with httpx.AsyncClient() as client:
            return await outbound.post(
                client, url, body=b"{}", headers={}, deadline=deadline, allow_private=allow_private
            )

    return asyncio.run(run())


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is resolved once; a second answer (a rebinding DNS server) is never asked for."""
    answers = [[ipaddress.ip_address("127.0.0.1")], [ipaddress.ip_address("10.9.9.9")]]
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        asked.append(host)
        return list(answers.pop(0))

    monkeypatch.setattr(outbound, "resolve", resolve)
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        outcome = _post(f"http://rebind.example:{port}/hook")
        assert outcome == outbound.Outcome(200, None)
        assert receiver.received[0].headers["host"] == f"rebind.example:{port}"
    assert asked == ["rebind.example"]


def test_a_name_with_any_private_answer_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("::ffff:10.0.0.1")]

    monkeypatch.setattr(outbound, "resolve", resolve)
    outcome = _post("http://mixed.example/hook", allow_private=False)
    assert outcome.status is None and outcome.error is not None and "non-public" in outcome.error


class Stall:
    """A receiver that accepts connections, reads the request and never answers (or answers forever)."""

    def __init__(self, *, drip: bytes | None = None) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._drip = drip
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}/hook"

    def _serve(self) -> None:
        self._server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            self._open.append(conn)
            if self._drip is not None:
                threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        assert self._drip is not None
        try:
            conn.sendall(self._drip)
            while not self._stop.is_set():
                conn.sendall(b"x" * 65536)
        except OSError:
            pass

    def __enter__(self) -> Stall:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._open:
            conn.close()
        self._server.close()


def test_a_receiver_that_never_answers_is_cut_at_the_deadline() -> None:
    with Stall() as stall:
        started = time.monotonic()
        outcome = _post(stall.url, deadline=0.5)
    assert outcome == outbound.Outcome(None, "no answer within 0.5 s")
    assert time.monotonic() - started < 2


def test_an_endless_reply_is_read_only_up_to_the_cap() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n"
    with Stall(drip=head) as stall:
        outcome = _post(stall.url, deadline=5)
    assert outcome == outbound.Outcome(200, None)


@pytest.fixture
def stalled() -> Iterator[Stall]:
    with Stall() as stall:
        yield stall


def test_one_slow_receiver_does_not_delay_other_tenants(admin: Admin, stalled: Stall) -> None:
    slow, quick = admin.tenant("admin", "slow"), admin.tenant("admin", "quick")
    admin.service.settings.delivery_timeout_seconds = 5.0
    with Receiver() as receiver:
        subscribe(admin, stalled.url, key=admin.key_for(slow), kinds=["quota.exceeded"])
        hook = subscribe(admin, receiver.url, key=admin.key_for(quick), kinds=["quota.exceeded"])
        for n in range(6):
            emit(admin, notices.QUOTA_EXCEEDED, slow, n=n)
        time.sleep(0.2)
        started = time.monotonic()
        emit(admin, notices.QUOTA_EXCEEDED, quick, n=99)
        receiver.wait_for(1)
        assert time.monotonic() - started < 2.5
        assert json.loads(receiver.received[0].body)["data"] == {"n": 99}
    assert wait_delivery(admin, int(hook["id"]), "delivered")["log"][0]["error"] is None


def test_delivery_logs_show_no_internal_error_text(admin: Admin) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    hook = subscribe(admin, f"http://127.0.0.1:{port}/nobody", kinds=["quota.exceeded"])
    emit(admin, notices.QUOTA_EXCEEDED, None, n=1)
    deadline = time.monotonic() + 10
    with admin.api() as api:
        while time.monotonic() < deadline:
            log = api.get(f"/api/webhooks/{hook['id']}/deliveries").json()
            if log and log[0]["log"]:
                break
            time.sleep(0.05)
    assert log[0]["log"][0]["error"] == "could not connect"
    assert "Errno" not in json.dumps(log) and "Error" not in json.dumps(log)
