"""The web chat over HTTP: identities, who may read which answer, refusals, and the signed-in mode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bots.admin.service import AdminService
from tests.bots.admin.conftest import Admin, admin_settings, tenant_ids
from workers.stack import Stack


@contextmanager
def browser(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=15, follow_redirects=True) as client:
        assert client.get("/chat").status_code == 200  # hands out the browser's identity cookie
        yield client


def events(client: httpx.Client, stream: str) -> list[tuple[str, dict[str, object]]]:
    found = []
    with client.stream("GET", stream) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                found.append((kind, json.loads(line.removeprefix("data: "))))
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
            {"role": "assistant", "content": "one two three"},
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
            from bots.admin import keys

            with clean_stack.sessions.begin() as session:
                token = keys.create(session, tenant_id=None, name="me").token
            client.post("/login", data={"key": token, "next": "/chat"})
            assert client.get("/chat").status_code == 200
            sent = client.post("/chat/messages", json={"text": "signed in", "thread": "t"})
            assert sent.status_code == 202
            assert events(client, sent.json()["stream"])[-1][1]["text"] == "You said: signed in"
    finally:
        service.stop()


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
