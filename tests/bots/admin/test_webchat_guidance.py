"""The web chat reviewed as Slack and Discord were: help names what the web chat takes, a line that
cannot run as typed is answered with its usage instead of reaching the model, and a limit says when
to ask again."""

from __future__ import annotations

from tests.bots.admin.conftest import Admin
from tests.bots.admin.test_webchat import browser, events


def _answer(client, text: str) -> str:
    sent = client.post("/chat/messages", json={"text": text, "thread": "guide"})
    assert sent.status_code == 202, sent.text
    kind, item = events(client, sent.json()["stream"])[-1]
    assert kind == "done"
    return str(item["text"])


def test_help_and_usage_mistakes_are_answered_without_the_model(admin: Admin, simulator) -> None:
    with browser(admin.url) as client:
        shown = _answer(client, "/help")
        assert "• /translate <language> <text>" in shown and "New (next to Send)" in shown
        assert "/llmos" not in shown and "/admin" not in shown
        assert _answer(client, "/translate German").startswith("say what to translate, e.g. /translate French hello.")
        assert _answer(client, "/ask").startswith("say what to ask, e.g. /ask why is the sky blue?")
        assert _answer(client, "/sumarize 5").startswith("unknown command /sumarize (did you mean /summarize?).")
    assert simulator.requests == []


def test_a_limit_says_when_to_ask_again(admin: Admin) -> None:
    tenant_id = admin.tenant("web", "local", "this machine")
    with admin.api() as api:
        assert api.put(f"/api/tenants/{tenant_id}/limits", json={"user_requests_per_minute": 1}).status_code == 200
    with browser(admin.url) as client:
        assert client.post("/chat/messages", json={"text": "hi", "thread": "t"}).status_code == 202
        limited = client.post("/chat/messages", json={"text": "again", "thread": "t"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["detail"]
