"""The web chat over HTTP: identities, who may read which answer, refusals, and the signed-in mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import select

from bots.admin import keys
from bots.admin.service import AdminService
from db import directory
from db.models import Message, Tenant
from tests.bots.admin.conftest import Admin, admin_settings, tenant_ids
from workers.settings import SettingsError
from workers.stack import Stack


@contextmanager
def browser(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=15, follow_redirects=True) as client:
        assert client.get("/chat").status_code == 200  # hands out the browser's identity cookie
        yield client


def read_into(client: httpx.Client, stream: str, got: list[tuple[str, dict[str, object]]]) -> None:
    """An answer's server-sent events, each added to `got` as it arrives (as a reader thread needs)."""
    with client.stream("GET", stream) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                got.append((kind, json.loads(line.removeprefix("data: "))))


def events(client: httpx.Client, stream: str) -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    read_into(client, stream, found)
    return found


def test_each_browser_has_its_own_answers_and_threads(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "one two three"
    with browser(admin.url) as alice, browser(admin.url) as bob:
        sent = alice.post("/chat/messages", json={"text": "hello", "thread": "same-name"})
        assert sent.status_code == 202
        stream = sent.json()["stream"]
        # Bob cannot read Alice's answer, nor her thread of the same name.
        assert bob.get(stream).status_code == 404
        got = events(alice, stream)
        assert [k for k, _ in got] == ["start", "delta", "delta", "delta", "done"]
        assert "".join(str(item["text"]) for k, item in got if k == "delta") == "one two three"
        assert bob.get("/chat/history", params={"thread": "same-name"}).json() == []
        assert alice.get("/chat/history", params={"thread": "same-name"}).json() == [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "one two three", "key": sent.json()["key"]},
        ]
        # Bob's follow-up in a thread with the same name starts a fresh conversation.
        events(bob, bob.post("/chat/messages", json={"text": "hi", "thread": "same-name"}).json()["stream"])
        assert [m["role"] for m in simulator.requests[-1].body["messages"]] == ["system", "user"]


def test_bad_requests_get_clear_answers(admin: Admin) -> None:
    with httpx.Client(base_url=admin.url, timeout=15) as stranger:
        response = stranger.post("/chat/messages", json={"text": "hi", "thread": "t"})
        assert response.status_code == 401 and "open /chat first" in response.json()["detail"]
    with browser(admin.url) as client:
        form = client.post(
            "/chat/messages", content=b'{"text":"hi","thread":"t"}', headers={"Content-Type": "text/plain"}
        )
        assert form.status_code in {415, 422}, form.text
        assert client.post("/chat/messages", json={"text": "", "thread": "t"}).status_code == 422
        assert client.post("/chat/messages", json={"text": "hi", "thread": "../../x"}).status_code == 422
        assert client.get("/chat/stream", params={"key": "web:local:nothing"}).status_code == 404


def test_access_rules_apply_to_the_web_chat(admin: Admin) -> None:
    with browser(admin.url) as client:
        events(client, client.post("/chat/messages", json={"text": "hi", "thread": "t"}).json()["stream"])
        tenant_id = tenant_ids(admin)["web:local"]
        with admin.api() as api:
            rule = {"subject_type": "channel", "subject": "web", "effect": "block"}
            assert api.put(f"/api/tenants/{tenant_id}/access", json=rule).status_code == 200
        refused = client.post("/chat/messages", json={"text": "hi again", "thread": "t"})
        assert refused.status_code == 403 and "blocked" in refused.json()["detail"]


def test_a_chat_that_is_not_open_asks_for_a_key(clean_stack: Stack, simulator) -> None:
    service = AdminService.for_stack(clean_stack, admin_settings(open_chat="false"))
    service.start()
    try:
        with httpx.Client(base_url=service.url, timeout=15) as client:
            page = client.get("/chat")
            assert page.status_code == 303 and page.headers["location"] == "/login?next=/chat"
            assert client.post("/chat/messages", json={"text": "hi", "thread": "t"}).status_code == 401
            with clean_stack.sessions.begin() as session:
                token = keys.create(session, tenant_id=None, name="me").token
            client.post("/login", data={"key": token, "next": "/chat"})
            assert client.get("/chat").status_code == 200
            sent = client.post("/chat/messages", json={"text": "signed in", "thread": "t"})
            assert sent.status_code == 202
            assert events(client, sent.json()["stream"])[-1][1]["text"] == "You said: signed in"
    finally:
        service.stop()


# -- hostile input and who may chat without a key ---------------------------------------------


def test_odd_lines_get_an_answer_not_an_error(admin: Admin, simulator) -> None:
    with browser(admin.url) as client:
        for text in (
            "/summarize \u00b2",
            "/quiz \u2075 planets",
            "/minutes " + "9" * 5000,
            "hi \ud800 there\x00",
            "/nope",
        ):
            sent = client.post(
                "/chat/messages",
                content=json.dumps({"text": text, "thread": "odd"}),  # keeps the lone surrogate as \ud800
                headers={"Content-Type": "application/json"},
            )
            assert sent.status_code == 202, (text[:20], sent.text)
            assert events(client, sent.json()["stream"])[-1][0] == "done"


FORWARDED = [
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9"},
    {"X-Real-IP": "203.0.113.9"},
    {"Via": "1.1 proxy"},
]


def test_a_request_through_a_proxy_gets_no_keyless_chat(admin: Admin) -> None:
    for headers in FORWARDED:
        with httpx.Client(base_url=admin.url, timeout=15, headers=headers) as proxied:
            page = proxied.get("/chat", follow_redirects=False)
            assert page.status_code == 303 and "set-cookie" not in page.headers, headers
        # Even with a cookie the open chat handed out before, a forwarded request is a stranger.
        with browser(admin.url) as client:
            sent = client.post("/chat/messages", json={"text": "hi", "thread": "t"}, headers=headers)
            assert sent.status_code == 401, headers


def test_a_public_allowed_host_closes_the_keyless_chat(clean_stack: Stack) -> None:
    settings = admin_settings(open_chat="auto", allowed_hosts=["llmos.example.org", "127.0.0.1"])
    assert settings.chat_is_open is False
    service = AdminService.for_stack(clean_stack, settings)
    service.start()
    try:
        with httpx.Client(base_url=service.url, timeout=15) as client:
            assert client.get("/chat", follow_redirects=False).status_code == 303
    finally:
        service.stop()
    with pytest.raises(SettingsError, match="ADMIN_OPEN_CHAT"):
        admin_settings(open_chat="true", allowed_hosts=["llmos.example.org"])


def test_fresh_cookies_do_not_reset_the_rate_limit(admin: Admin) -> None:
    tenant_id = admin.tenant("web", "local", "this machine")
    with admin.api() as api:
        assert api.put(f"/api/tenants/{tenant_id}/limits", json={"user_requests_per_minute": 2}).status_code == 200
    codes = []
    for _ in range(4):
        with browser(admin.url) as fresh:
            codes.append(fresh.post("/chat/messages", json={"text": "hi", "thread": "t"}).status_code)
    # A limit is not a rule: the browser hears when it may ask again.
    assert codes == [202, 202, 429, 429]


def test_a_tenant_key_chats_in_its_own_tenant(clean_stack: Stack, simulator) -> None:
    service = AdminService.for_stack(clean_stack, admin_settings(open_chat="false"))
    service.start()
    try:
        with clean_stack.sessions.begin() as session:
            tenant = directory.tenant(session, platform="slack", external_id="T0ACME", name="Acme")
            session.flush()
            acme = tenant.id
            token = keys.create(session, tenant_id=acme, name="acme chat").token
        with httpx.Client(base_url=service.url, timeout=15) as client:
            client.post("/login", data={"key": token, "next": "/chat"})
            sent = client.post("/chat/messages", json={"text": "in acme", "thread": "t"})
            assert sent.status_code == 202
            events(client, sent.json()["stream"])
            assert client.get("/chat/history", params={"thread": "t"}).json()[0]["content"] == "in acme"
        with clean_stack.sessions() as session:
            stored = session.scalars(select(Message.tenant_id).where(Message.role == "user")).all()
        assert stored == [acme]
        assert "web:local" not in tenant_ids_of(clean_stack)
    finally:
        service.stop()


def tenant_ids_of(stack: Stack) -> set[str]:
    with stack.sessions() as session:
        return {f"{t.platform}:{t.external_id}" for t in session.scalars(select(Tenant))}


def test_a_slow_answer_keeps_its_stream_alive_with_pings(clean_stack: Stack, simulator) -> None:
    """sse-starlette's comment pings flow while the engine has not started answering."""
    simulator.config.ttft = 1.0
    service = AdminService.for_stack(clean_stack, admin_settings(chat_ping_seconds=0.2))
    service.start()
    try:
        with browser(service.url) as client:
            stream = client.post("/chat/messages", json={"text": "slow", "thread": "t"}).json()["stream"]
            lines = []
            with client.stream("GET", stream) as response:
                lines = [line for line in response.iter_lines() if line]
        first_text = lines.index("event: delta")
        assert sum(line.startswith(": ping") for line in lines[:first_text]) >= 2, lines[:first_text]
        assert json.loads(lines[-1].removeprefix("data: "))["text"] == "You said: slow"
    finally:
        service.stop()
