"""The web chat's Stop over HTTP: only the asking browser may, the engine's request is cut, the partial
answer is kept and shown as stopped."""

from __future__ import annotations

import json
import threading
import time

from sqlalchemy import select

from db.models import Feedback, Notice
from tests.bots.admin.conftest import Admin
from tests.bots.admin.test_webchat import browser, read_into
from tests.helpers import disconnected, messages, settle

LONG = " ".join(f"word{i}" for i in range(400))


def test_the_asking_browser_stops_its_answer_and_keeps_what_was_said(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: LONG
    simulator.config.inter_token = 0.02
    with browser(admin.url) as alice, browser(admin.url) as bob:
        sent = alice.post("/chat/messages", json={"text": "count", "thread": "t"}).json()
        got: list[tuple[str, dict[str, object]]] = []
        reader = threading.Thread(target=read_into, args=(alice, sent["stream"], got))
        reader.start()
        deadline = time.monotonic() + 15
        while not any(k == "delta" for k, _ in got) and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = bob.post("/chat/stop", json={"key": sent["key"]})
        assert refused.status_code == 404  # another browser's answer does not exist for Bob
        stopping = alice.post("/chat/stop", json={"key": sent["key"]})
        assert stopping.status_code == 202 and stopping.json()["detail"] == "Stopping the answer."
        reader.join(20)
        kind, last = got[-1]
        assert kind == "done" and str(last["text"]).endswith("\n\n_(Stopped.)_")
        settle(admin.stack)
        late = alice.post("/chat/stop", json={"key": sent["key"]})
        assert late.status_code == 409 and late.json()["detail"] == "That answer is already finished."
        history = alice.get("/chat/history", params={"thread": "t"}).json()
        assert history[-1]["stopped"] is True and history[-1]["content"].startswith("word0 ")
        assert alice.post("/chat/stop", content=b"{}", headers={"Content-Type": "text/plain"}).status_code in {415, 422}
        assert alice.post("/chat/stop", json={"key": ""}).status_code == 422
    assert disconnected(simulator)
    assert admin.stack.scheduler.store.running() == {}
    stored = messages(admin.stack, "assistant")[0]
    assert stored.stopped and len(stored.content) < len(LONG)


def test_feedback_on_an_answer_is_kept_reported_and_exported(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "Paris."
    with browser(admin.url) as alice, browser(admin.url) as bob:
        sent = alice.post("/chat/messages", json={"text": "capital of France?", "thread": "t"}).json()
        got: list[tuple[str, dict[str, object]]] = []
        read_into(alice, sent["stream"], got)
        (turn,) = [m for m in alice.get("/chat/history", params={"thread": "t"}).json() if m["role"] == "assistant"]
        assert turn["key"] == sent["key"]
        rated = alice.post("/chat/feedback", json={"key": sent["key"], "rating": "down"})
        assert rated.status_code == 200 and rated.json()["detail"] == "Thanks for the feedback."
        again = alice.post("/chat/feedback", json={"key": sent["key"], "rating": "down", "comment": " Too short. "})
        assert again.status_code == 200
        assert bob.post("/chat/feedback", json={"key": sent["key"], "rating": "up"}).status_code == 404
        assert alice.post("/chat/feedback", json={"key": sent["key"], "rating": "meh"}).status_code == 422
        assert alice.post("/chat/feedback", json={"key": "web:local:nope", "rating": "up"}).status_code == 404
    with admin.stack.sessions() as session:
        (row,) = session.scalars(select(Feedback)).all()
        sent_notices = session.scalars(select(Notice).where(Notice.kind == "feedback.received")).all()
        tenant_id = row.tenant_id
    assert (row.rating, row.comment, row.model, row.skill) == (-1, "Too short.", "sim-model", "ask")
    assert sent_notices[-1].data["comment"] == "Too short." and sent_notices[-1].data["rating"] == "down"
    with admin.api() as api:
        exported = api.get(f"/api/tenants/{tenant_id}/export")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert {"feedback": "down", "comment": "Too short."}.items() <= lines[-1].items()


def test_the_dashboard_shows_feedback_rates_per_model_and_skill(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "An answer."
    with browser(admin.url) as alice:
        for rating in ("up", "up", "down"):
            sent = alice.post("/chat/messages", json={"text": "a question", "thread": "t"}).json()
            read_into(alice, sent["stream"], [])
            assert alice.post("/chat/feedback", json={"key": sent["key"], "rating": rating}).status_code == 200
    with admin.client() as page:
        page.cookies.set("llmos_admin", admin.global_key)
        panel = page.get("/dashboard/panel").text
    card = panel[panel.index('id="feedback"') :]
    assert "<td>sim-model</td><td>ask</td>" in card
    assert '<td class="num">2</td><td class="num">1</td>' in card and "67 %" in card
    assert "Helpful answers per day" in card


def test_a_browser_lists_and_deletes_its_own_conversations(admin: Admin, simulator) -> None:
    simulator.config.answer = lambda msgs: "An answer."
    with browser(admin.url) as alice, browser(admin.url) as bob:
        for thread, question in (("first", "What is   the first\nquestion?"), ("second-one", "Second?")):
            sent = alice.post("/chat/messages", json={"text": question, "thread": thread}).json()
            read_into(alice, sent["stream"], [])
        listed = alice.get("/chat/threads").json()
        assert [(t["thread"], t["title"]) for t in listed] == [
            ("second-one", "Second?"),
            ("first", "What is the first question?"),
        ]
        assert bob.get("/chat/threads").json() == []
        assert bob.delete("/chat/threads/first").status_code == 404
        assert alice.delete("/chat/threads/../x").status_code in {404, 422}
        assert alice.delete("/chat/threads/first").json() == {"messages": 2}
        assert [t["thread"] for t in alice.get("/chat/threads").json()] == ["second-one"]
        assert alice.get("/chat/history", params={"thread": "first"}).json() == []
        assert len(alice.get("/chat/history", params={"thread": "second-one"}).json()) == 2
